/**
 * A clock for durations, timeouts and leases that never steps (an NTP correction or a VM
 * resume moves Date.now: forward, every peer looks silent at once; back, a silent one looks
 * alive and a lease is trusted too long), on the epoch's scale so the few instants shown to
 * users as dates stay close to the wall clock. Whole milliseconds, like Date.now (what
 * /status shows are ages in ms). It stops while the host is suspended.
 */
export function monotonicNow(): number {
  return Math.floor(performance.timeOrigin + performance.now());
}
