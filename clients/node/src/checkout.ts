// A checkout against fulfil, as an order-capture service does it: the options of each service
// level (FulfilmentOptions, a quote), the cheapest complete one committed (RouteOrder), then
// confirmed (Confirm). Prints one JSON object.
//
//   node dist/checkout.js --server 127.0.0.1:50051 --order-id N-1 --lat 40.73 --lon -73.93 --line A:1
import { Client, call } from "./fulfil";

function flags(argv: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    if (!argv[i].startsWith("--") || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    out.set(key, [...(out.get(key) ?? []), argv[i + 1]]);
  }
  return out;
}

const SERVICES: Record<string, string> = {
  ground: "SERVICE_GROUND", two_day: "SERVICE_TWO_DAY", next_day: "SERVICE_NEXT_DAY", same_day: "SERVICE_SAME_DAY",
};

async function main(): Promise<number> {
  const f = flags(process.argv.slice(2));
  const one = (k: string, dflt?: string) => {
    const v = f.get(k)?.[0] ?? dflt;
    if (v === undefined) throw new Error(`--${k} is required`);
    return v;
  };
  const client = new Client({ server: one("server", "127.0.0.1:50051"), token: f.get("token")?.[0], tlsCa: f.get("tls-ca")?.[0] });
  const orderId = one("order-id");
  const [lat, lon] = [Number(one("lat")), Number(one("lon"))];
  const lines = (f.get("line") ?? []).map((s) => ({ sku: s.split(":")[0], qty: Number(s.split(":")[1] ?? 1) }));
  try {
    const offered: any = await call(client, client.routing, "FulfilmentOptions", { lat, lon, basket: lines });
    const complete = offered.options.filter((o: any) => o.complete && o.service in SERVICES);
    if (complete.length === 0) {
      console.log(JSON.stringify({ order_id: orderId, error: "no complete option" }));
      return 2;
    }
    const chosen = complete.reduce((a: any, b: any) => (b.decision.cost.total < a.decision.cost.total ? b : a));
    const order = { order_id: orderId, lat, lon, lines, service: SERVICES[chosen.service] };
    const routed: any = await call(client, client.routing, "RouteOrder", { order, dry_run: false },
      { requestId: `checkout-${orderId}` });
    const done: any = await call(client, client.reservations, "Confirm", { reservation_id: routed.reservation_id });
    console.log(JSON.stringify({
      order_id: orderId,
      chosen: chosen.service,
      cost: Math.round(routed.decision.cost.total * 100) / 100,
      shipped_from: routed.decision.shipments.map((s: any) => s.node_id),
      reservation_id: routed.reservation_id,
      state: done.state,
    }));
    return 0;
  } finally {
    client.close();
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(`checkout: ${e.code !== undefined ? `code ${e.code}: ${e.details}` : e.message}`);
  process.exit(1);
});
