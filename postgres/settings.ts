/**
 * Server settings of every PostgreSQL node the system starts itself (embedded
 * single node, two-host primary and standby). Sized for a 2-core box running the
 * whole system. fsync and synchronous_commit stay ON: acknowledged operations must
 * survive a crash. wal_level=replica and wal senders let a standby attach without
 * a restart. The replication timeouts are short because this is a failover system:
 * a dead standby must drop out of pg_stat_replication in seconds, not the default
 * minute, and a standby must retry a promoted primary within 100 ms (FACTS).
 */
export const PG_SETTINGS: Readonly<Record<string, string | number>> = {
  max_connections: 200,
  shared_buffers: '128MB',
  work_mem: '4MB',
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  wal_level: 'replica',
  max_wal_senders: 10,
  max_replication_slots: 10,
  wal_keep_size: '256MB',
  // A standby that never comes back (pc2's dir wiped, host gone) must not pin WAL
  // through its slot until the disk fills: past this the primary invalidates the
  // slot (the standby then needs a re-clone). Same value as deploy/postgres/replication.conf.
  max_slot_wal_keep_size: '4GB',
  hot_standby: 'on',
  wal_sender_timeout: '5s',
  wal_receiver_timeout: '5s',
  wal_receiver_status_interval: '1s',
  wal_retrieve_retry_interval: '100ms',
  timezone: 'UTC',
  log_timezone: 'UTC',
  // TCP only: the default socket dir (/var/run/postgresql) may not exist or be writable.
  unix_socket_directories: '',
  logging_collector: 'off',
  log_min_messages: 'warning',
  log_line_prefix: '%m [%p] ',
};
