/**
 * What the panel knows at one moment (every process's /status as it answered)
 * and the per-poll numbers its charts plot. Types only, shared by the collector,
 * the change detector and the page (which gets them as JSON).
 */
import type { ActorHandle } from '../actores/actor.js';
import type { EndpointStatus } from '../common/storage-client.js';
import type { GaStatus } from '../gestor_almacenamiento/ga.js';
import type { ErrorStats } from '../gestor_carga/error-stats.js';
import type { GcStatus } from '../gestor_carga/gc.js';
import type { Target } from './targets.js';

export type ActorStatus = ReturnType<ActorHandle['status']>;
export type ErrorStatsSnapshot = ReturnType<ErrorStats['snapshot']>;

/** One process as last polled: its status document, or why there is none. */
export interface Observed<S> {
  objetivo: Target;
  responde: boolean;
  /** Why it did not answer. */
  error?: string;
  /** Its /status document. */
  estado?: S;
}

export interface PanelSnapshot {
  /** Epoch ms of the poll. */
  t: number;
  gcs: Array<Observed<GcStatus> & { errores?: ErrorStatsSnapshot }>;
  gas: Array<Observed<GaStatus>>;
  /** vivo: it answers and every GC that answers counts it live (no GC answering: it answers). */
  actores: Array<Observed<ActorStatus> & { vivo: boolean }>;
  /** Live actors: tipo → host → count. Actors a GC counts live that the panel has no URL for are under host "?". */
  actoresVivos: Record<string, Record<string, number>>;
  /** Every storage client's breaker per GA endpoint: the GCs' and the actors'. */
  disyuntores: Array<EndpointStatus & { cliente: string; host: string }>;
}

/** The numbers of one poll interval (summed over the GCs). */
export interface PanelPoint {
  t: number;
  /** Per operation: requests answered per second, latency percentiles (ms, null when none). */
  porOperacion: Record<string, { rps: number; p50: number | null; p99: number | null }>;
  /** Error replies per second by class (invalid, not_found, conflict, unavailable, internal). */
  erroresPorSegundo: Record<string, number>;
  tareas: { enviada: number; enCola: number; espera: number };
  /** Largest replication lag any GA reports, bytes (null: nobody reports one). */
  retrasoReplicaBytes: number | null;
}

export type PanelEventKind = 'rol' | 'breaker' | 'proceso';

export interface PanelEvent {
  /** Epoch ms. */
  t: number;
  tipo: PanelEventKind;
  texto: string;
}

/** What the page gets: at connection the whole history, then one of these per poll. */
export interface PanelUpdate {
  instantanea: PanelSnapshot;
  punto?: PanelPoint;
  eventos: PanelEvent[];
}
