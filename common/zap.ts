/**
 * ZAP (ZeroMQ RFC 27): who may connect to a CURVE server socket.
 *
 * libzmq asks the handler bound on `inproc://zeromq.zap.01` in the socket's
 * context about every CURVE handshake, naming the server socket by its ZAP
 * domain and the client by its long-term public key; the handler answers
 * 200 (let in) or 400 (refused: libzmq sends the client an ERROR and drops it).
 * Without a handler libzmq lets in any client that knows the server's public
 * key, so a CURVE server socket here is only ever bound after its domain is
 * registered.
 *
 * The decision (parse a request, look the key up in the domain's allow-list,
 * build the reply) is pure and tested on its own; the Router that carries it
 * is the edge (ZapAuthority): one per process (one context), shared by every
 * server socket through its own domain.
 */
import { Router } from 'zeromq';
import { z85Encode } from './curve-keys.js';

export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const ZAP_VERSION = '1.0';

export interface ZapRequest {
  version: string;
  requestId: Buffer;
  domain: string;
  /** The client's address (IP) as libzmq saw it. */
  address: string;
  mechanism: string;
  credentials: Buffer[];
}

export interface ZapDecision {
  status: '200' | '400' | '500';
  text: string;
  /** Z85 public key of the client (CURVE with a well-formed key), else undefined. */
  clientKey?: string;
}

/** Frames of a ZAP request (after the Router envelope); undefined if it is not one. */
export function parseZapRequest(frames: readonly Buffer[]): ZapRequest | undefined {
  if (frames.length < 6) return undefined;
  const [version, requestId, domain, address, _identity, mechanism, ...credentials] = frames;
  return {
    version: version!.toString('latin1'),
    requestId: requestId!,
    domain: domain!.toString('utf8'),
    address: address!.toString('utf8'),
    mechanism: mechanism!.toString('latin1'),
    credentials,
  };
}

/** Allow-lists by ZAP domain: Z85 public keys of the clients each server socket admits. */
export type AllowLists = ReadonlyMap<string, ReadonlySet<string>>;

/** The decision for one request: only CURVE clients whose key is on the domain's allow-list get in. */
export function decideZap(req: ZapRequest, allow: AllowLists): ZapDecision {
  if (req.version !== ZAP_VERSION) return { status: '500', text: `versión ZAP no soportada: ${req.version.slice(0, 16)}` };
  if (req.mechanism !== 'CURVE') return { status: '400', text: `mecanismo no admitido: ${req.mechanism.slice(0, 16)}` };
  const key = req.credentials[0];
  if (req.credentials.length !== 1 || !key || key.length !== 32) return { status: '400', text: 'credenciales CURVE mal formadas' };
  const clientKey = z85Encode(key);
  const allowed = allow.get(req.domain);
  if (!allowed) return { status: '400', text: `dominio ZAP desconocido: ${req.domain.slice(0, 64)}`, clientKey };
  if (!allowed.has(clientKey)) return { status: '400', text: 'clave de cliente desconocida', clientKey };
  return { status: '200', text: 'OK', clientKey };
}

/** Reply frames (after the envelope): version, request id, status, text, user id (the client key), metadata. */
export function zapReplyFrames(req: Pick<ZapRequest, 'requestId'>, d: ZapDecision): Array<Buffer | string> {
  return [ZAP_VERSION, req.requestId, d.status, d.text, d.status === '200' ? (d.clientKey ?? '') : '', Buffer.alloc(0)];
}

/** A refused handshake, as reported to the domain's owner. */
export interface ZapRefusal {
  domain: string;
  address: string;
  mechanism: string;
  clientKey?: string;
  text: string;
}

interface Registration {
  allowed: ReadonlySet<string>;
  onRefused: (r: ZapRefusal) => void;
}

/**
 * The process's ZAP handler: a Router on inproc://zeromq.zap.01 in the default
 * context, bound while at least one domain is registered. Each server socket
 * registers its own domain (unique in the process) with its allow-list.
 */
class ZapAuthority {
  private readonly domains = new Map<string, Registration>();
  private router: Router | undefined;
  private loop: Promise<void> | undefined;
  private seq = 0;

  /** Registers an allow-list under a new domain named after `name`; returns the domain and its release. */
  async register(name: string, allowed: Iterable<string>, onRefused: (r: ZapRefusal) => void): Promise<{ domain: string; release: () => Promise<void> }> {
    const domain = `${name}#${++this.seq}`;
    this.domains.set(domain, { allowed: new Set(allowed), onRefused });
    try {
      await this.open();
    } catch (err) {
      this.domains.delete(domain);
      throw err;
    }
    let released = false;
    return {
      domain,
      release: async () => {
        if (released) return;
        released = true;
        this.domains.delete(domain);
        if (this.domains.size === 0) await this.shut();
      },
    };
  }

  private allowLists(): AllowLists {
    return new Map([...this.domains].map(([d, r]) => [d, r.allowed]));
  }

  private async open(): Promise<void> {
    if (this.router) return;
    const router = new Router({ linger: 0 });
    this.router = router;
    try {
      await router.bind(ZAP_ENDPOINT);
    } catch (err) {
      this.router = undefined;
      router.close();
      throw new Error(`cannot bind the ZAP handler on ${ZAP_ENDPOINT}: ${(err as Error).message}`, { cause: err });
    }
    this.loop = this.serve(router);
  }

  private async shut(): Promise<void> {
    const router = this.router;
    if (!router) return;
    this.router = undefined;
    router.close();
    await this.loop;
  }

  private async serve(router: Router): Promise<void> {
    try {
      for await (const frames of router) {
        // [peer routing id, empty delimiter, request…]
        const req = parseZapRequest(frames.slice(2));
        if (!req) continue; // libzmq never sends these; nothing to answer
        const d = decideZap(req, this.allowLists());
        if (d.status !== '200') {
          const reg = this.domains.get(req.domain);
          const refusal: ZapRefusal = { domain: req.domain, address: req.address, mechanism: req.mechanism, text: d.text, ...(d.clientKey ? { clientKey: d.clientKey } : {}) };
          try {
            reg?.onRefused(refusal);
          } catch {
            /* a reporting callback must not stop authentication */
          }
        }
        await router.send([frames[0]!, Buffer.alloc(0), ...zapReplyFrames(req, d)]);
      }
    } catch {
      // Closed (release of the last domain): pending handshakes fail closed, as they should.
    }
  }
}

export const zapAuthority = new ZapAuthority();
