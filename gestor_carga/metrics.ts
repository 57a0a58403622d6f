/** The GC's Prometheus metrics, on the registry the HTTP port serves. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface GcMetrics {
  requests: Counter<'operacion' | 'codigo'>;
  latency: Histogram<'operacion'>;
  liveActors: Gauge<'tipo'>;
  repeatedActorIds: Gauge;
  tasksInFlight: Gauge<'estado'>;
  republications: Counter<'motivo' | 'tipo'>;
  syncWaiting: Gauge;
}

export function createGcMetrics(registry: Registry): GcMetrics {
  const registers = [registry];
  return {
    requests: new Counter({ name: 'gc_requests_total', help: 'Requests answered, by operation and reply code', labelNames: ['operacion', 'codigo'], registers }),
    latency: new Histogram({
      name: 'gc_request_duration_seconds',
      help: 'Time from receiving a request to queueing its reply',
      labelNames: ['operacion'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    liveActors: new Gauge({ name: 'gc_live_actors', help: 'Live actors by type', labelNames: ['tipo'], registers }),
    repeatedActorIds: new Gauge({ name: 'gc_actor_ids_repeated', help: 'Actor entries (tipo.actorId) heard lately from two processes at once (one ACTOR_ID given to two processes)', registers }),
    tasksInFlight: new Gauge({ name: 'gc_tasks', help: 'Tasks tracked by the GC, by state (enviada, en-cola, espera)', labelNames: ['estado'], registers }),
    republications: new Counter({ name: 'gc_republications_total', help: 'Tasks published again, by reason', labelNames: ['motivo', 'tipo'], registers }),
    syncWaiting: new Gauge({ name: 'gc_sync_requests_waiting', help: 'Sync requests waiting for an actor result', registers }),
  };
}
