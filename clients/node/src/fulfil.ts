// Connecting to fulfil from Node: the API loaded from proto/ at run time (@grpc/proto-loader),
// TLS and a bearer token, and calls retried the way the server asks (docs/status-codes.md).
import * as path from "path";
import { randomUUID } from "crypto";
import * as fs from "fs";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO = path.resolve(__dirname, "../../../proto");

// Worth another try after a pause: shed (at its limit), store unreachable, commit raced.
const RETRY = new Set([grpc.status.RESOURCE_EXHAUSTED, grpc.status.UNAVAILABLE, grpc.status.ABORTED]);

export interface Options {
  server: string;
  token?: string;
  tlsCa?: string;
}

// The four services on one channel, with the call metadata.
export class Client {
  readonly routing: any;
  readonly reservations: any;
  readonly network: any;
  private readonly token?: string;

  constructor(opts: Options) {
    const def = protoLoader.loadSync("fulfil/v1/fulfil.proto", {
      includeDirs: [PROTO],
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const api: any = grpc.loadPackageDefinition(def).fulfil;
    const creds = opts.tlsCa
      ? grpc.credentials.createSsl(fs.readFileSync(opts.tlsCa))
      : grpc.credentials.createInsecure();
    this.routing = new api.v1.Routing(opts.server, creds);
    this.reservations = new api.v1.Reservations(opts.server, creds, { channelOverride: this.routing.getChannel() });
    this.network = new api.v1.Network(opts.server, creds, { channelOverride: this.routing.getChannel() });
    this.token = opts.token;
  }

  metadata(requestId: string): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set("x-request-id", requestId);
    if (this.token) md.set("authorization", `Bearer ${this.token}`);
    return md;
  }

  close(): void {
    this.routing.close();
  }
}

function once<T>(stub: any, method: string, req: object, md: grpc.Metadata, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + timeoutMs);
    stub[method](req, md, { deadline }, (err: grpc.ServiceError | null, resp: T) =>
      err ? reject(err) : resolve(resp),
    );
  });
}

export interface CallOptions {
  requestId?: string;
  timeoutMs?: number;
  attempts?: number;
}

// Calls `stub.method` with a deadline, retrying the retryable codes with jittered exponential
// backoff; every attempt carries the same request id (commits are idempotent by order id).
export async function call<T>(
  client: Client, stub: any, method: string, req: object,
  { requestId = randomUUID() as string, timeoutMs = 5000, attempts = 5 }: CallOptions = {},
): Promise<T> {
  let pause = 50;
  for (let attempt = 1; ; attempt++) {
    try {
      return await once<T>(stub, method, req, client.metadata(requestId), timeoutMs);
    } catch (e) {
      const code = (e as grpc.ServiceError).code;
      if (!RETRY.has(code) || attempt >= attempts) throw e;
      await new Promise((r) => setTimeout(r, pause * (1 + Math.random())));
      pause = Math.min(pause * 2, 2000);
    }
  }
}
