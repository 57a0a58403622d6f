/**
 * `npm run bench:saltos`: the cost of the ZeroMQ hops alone. A client with 10
 * requests in flight talks through a chain of 1..N relay processes (ROUTER in,
 * DEALER out) to an echo process; no JSON, no logic, no database. It prints
 * round trips per second and the CPU every process of the chain spent per round
 * trip, which is the floor any design with that many hops pays on this machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { Dealer, Router } from 'zeromq';
import { intArg, spanishHelp } from '../../common/cli-args.js';
import { freePort } from '../launcher/free-port.js';
import { guardStdio } from '../../common/stdio-guard.js';
import { adoptSchedulingPolicy } from '../../common/scheduling.js';

// A closed stdout (`| head`) must not kill the command.
guardStdio();

const self = fileURLToPath(import.meta.url);

async function relay(bind: string, next: string): Promise<void> {
  const front = new Router({ linger: 0 });
  await front.bind(bind);
  const back = new Dealer({ linger: 0 });
  back.connect(next);
  void (async () => {
    for await (const frames of front) await back.send(frames);
  })();
  for await (const frames of back) await front.send(frames);
}

async function echo(bind: string): Promise<void> {
  const r = new Router({ linger: 0 });
  await r.bind(bind);
  for await (const frames of r) await r.send(frames);
}

function cpuSeconds(pid: number): number {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function measure(hops: number, inFlight: number, n: number): Promise<{ rate: number; cpuUs: number }> {
  const ports = await Promise.all(Array.from({ length: hops }, () => freePort()));
  const ep = (i: number) => `tcp://127.0.0.1:${ports[i]}`;
  const kids: ChildProcess[] = [fork(self, ['echo', ep(hops - 1)])];
  for (let i = hops - 2; i >= 0; i--) kids.push(fork(self, ['relay', ep(i), ep(i + 1)]));
  try {
    await new Promise((r) => setTimeout(r, 1500)); // let every process bind and connect
    const d = new Dealer({ linger: 0 });
    d.connect(ep(0));
    const body = JSON.stringify({ operacion: 'prestamo', isbn: '978-84-376-0494-7', usuario: 'u1' });
    const c0 = kids.reduce((s, k) => s + cpuSeconds(k.pid!), 0);
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    let sent = 0;
    let got = 0;
    for (; sent < inFlight; sent++) await d.send(body);
    for await (const [m] of d) {
      if (++got >= n) break;
      if (sent < n) {
        sent++;
        await d.send(m!);
      }
    }
    const secs = (performance.now() - t0) / 1000;
    const u = process.cpuUsage(u0);
    const cpu = kids.reduce((s, k) => s + cpuSeconds(k.pid!), 0) - c0 + (u.user + u.system) / 1e6;
    d.close();
    return { rate: n / secs, cpuUs: (cpu * 1e6) / n };
  } finally {
    for (const k of kids) k.kill('SIGKILL');
  }
}

const [role, a, b] = process.argv.slice(2);
if (role === 'relay') await relay(a!, b!);
else if (role === 'echo') await echo(a!);
else {
  const o = spanishHelp(new Command())
    .name('bench:saltos')
    .description('coste de los saltos ZeroMQ solos: cliente → relés → eco')
    .option('--max-saltos <n>', 'cadenas de 1..n procesos', intArg(1), 3)
    .option('--en-vuelo <n>', 'solicitudes en vuelo', intArg(1), 10)
    .option('--n <n>', 'ida y vuelta por medida', intArg(1), 20000)
    .parse()
    .opts<{ maxSaltos: number; enVuelo: number; n: number }>();
  // Like bench: the relays (forked below) inherit it (common/scheduling.ts).
  adoptSchedulingPolicy((s) => process.stderr.write(s));
  process.stdout.write(`saltos  ida-y-vuelta/s  µs CPU por ida y vuelta (todos los procesos)   [${o.enVuelo} en vuelo]\n`);
  for (let h = 1; h <= o.maxSaltos; h++) {
    const r = await measure(h, o.enVuelo, o.n);
    process.stdout.write(`${String(h).padStart(6)}  ${r.rate.toFixed(0).padStart(14)}  ${r.cpuUs.toFixed(0).padStart(8)}\n`);
  }
  process.exit(0);
}
