// The browser suite's page script (bundled by esbuild at test time; examples/web/README.md).
// By default, route_guide's four kinds of calls from a page served by route_guide_server itself:
// - connect-web with its Connect and its gRPC-Web transports: unary and server streaming (the
//   kinds connect-web has: browsers cannot stream a request body over HTTP/1.1, and fetch's
//   request streaming is half-duplex, so it has no client or bidi streaming);
// - grpc-web (its text mode, the one in which its JS streams responses): unary and server
//   streaming;
// - over HTTP/2 only: client streaming and bidi as Connect streaming calls made by hand with
//   fetch and a ReadableStream body (duplex: 'half': the whole request, then the response).
// Loaded with ?service=greeter (from greeter_server), the page calls helloworld's SayHello
// instead, with the same three clients (connect-web Connect and gRPC-Web, grpc-web text).
// No code generation: the messages and the services come from route_guide.binpb and
// helloworld.binpb (descriptor sets served beside the page). Each call's outcome is a row of the
// table; window.suite holds them all once done, for the driver (driver.js).
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { GrpcWebClientBase, MethodDescriptor, MethodType } from "grpc-web";

const PATRIOTS = { latitude: 407838351, longitude: -746143763 };
const RECT = { lo: { latitude: 400000000, longitude: -750000000 },
               hi: { latitude: 420000000, longitude: -730000000 } };
const NOTES = [["First message", 0, 0], ["Second message", 0, 1], ["Third message", 1, 0],
               ["Fourth message", 0, 0]];

const rows = [];
function record(client, call, outcome, result) {
  rows.push({ client, call, outcome, result });
  const tr = document.createElement("tr");
  tr.className = outcome;
  for (const text of [client, call, outcome, result]) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }
  document.getElementById("results").appendChild(tr);
}
async function run(client, call, fn) {
  try {
    record(client, call, "ok", await fn());
  } catch (e) {
    record(client, call, "fail", String(e && e.message || e));
  }
}

const featureText = (f) => `${f.name} at (${f.location.latitude}, ${f.location.longitude})`;
const listText = (features) => {
  const names = features.map((f) => f.name).filter((n) => n);
  return `${features.length} features: ${names.join(" | ")}`;
};

// Connect's streaming envelope: flags, big-endian length, payload.
function envelope(flags, payload) {
  const out = new Uint8Array(5 + payload.length);
  new DataView(out.buffer).setUint32(1, payload.length);
  out[0] = flags;
  out.set(payload, 5);
  return out;
}
function* envelopes(bytes) {
  let at = 0;
  while (at + 5 <= bytes.length) {
    const n = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0);
    yield { flags: bytes[at], payload: bytes.subarray(at + 5, at + 5 + n) };
    at += 5 + n;
  }
  if (at !== bytes.length) throw new Error(`cut envelope at ${at} of ${bytes.length}`);
}

// A Connect streaming call (application/connect+proto) by hand: `inputs` sent as a streamed
// request body, the response messages decoded, the end-stream message's error thrown.
async function connectStream(method, inputs) {
  const body = new ReadableStream({
    start(controller) {
      for (const m of inputs) controller.enqueue(envelope(0, toBinary(method.input, m)));
      controller.close();
    },
  });
  const response = await fetch(`/${method.parent.typeName}/${method.name}`, {
    method: "POST",
    headers: { "content-type": "application/connect+proto", "connect-protocol-version": "1" },
    body,
    duplex: "half",
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  const out = [];
  for (const e of envelopes(new Uint8Array(await response.arrayBuffer()))) {
    if (e.flags & 2) {
      const end = JSON.parse(new TextDecoder().decode(e.payload));
      if (end.error) throw new Error(`${end.error.code}: ${end.error.message}`);
    } else {
      out.push(fromBinary(method.output, e.payload));
    }
  }
  return out;
}

async function loadRegistry(file) {
  const set = fromBinary(FileDescriptorSetSchema,
                         new Uint8Array(await (await fetch(file)).arrayBuffer()));
  return createFileRegistry(set);
}

// helloworld.Greeter/SayHello from greeter_server, with each client; the name says which client
// sent it, so a reply that came from another call cannot pass for this one's.
async function greeter() {
  const registry = await loadRegistry("helloworld.binpb");
  const service = registry.getService("helloworld.Greeter");
  const HelloRequest = registry.getMessage("helloworld.HelloRequest");
  for (const [name, transport, tag] of [
    ["connect-web (Connect)", createConnectTransport({ baseUrl: location.origin }), "connect"],
    ["connect-web (gRPC-Web)", createGrpcWebTransport({ baseUrl: location.origin }), "grpc-web"],
  ]) {
    const client = createClient(service, transport);
    await run(name, "SayHello (unary)", async () =>
      (await client.sayHello(create(HelloRequest, { name: `browser via ${tag}` }))).message);
  }
  const sayHello = service.methods.find((m) => m.name === "SayHello");
  const web = new GrpcWebClientBase({ format: "text" });
  await run("grpc-web (text)", "SayHello (unary)", () => new Promise((resolve, reject) => {
    web.rpcCall(`${location.origin}/helloworld.Greeter/SayHello`,
                create(HelloRequest, { name: "browser via grpc-web text" }), {},
                new MethodDescriptor("/helloworld.Greeter/SayHello", MethodType.UNARY, Object,
                                     Object, (req) => toBinary(sayHello.input, req),
                                     (bytes) => fromBinary(sayHello.output, bytes)),
                (err, reply) => (err ? reject(new Error(`${err.code}: ${err.message}`))
                                     : resolve(reply.message)));
  }));
}

async function main() {
  const h2 = location.protocol === "https:";
  const nav = performance.getEntriesByType("navigation")[0];
  document.getElementById("where").textContent =
      `${location.origin}, page over ${nav ? nav.nextHopProtocol : "?"}`;
  if (new URLSearchParams(location.search).get("service") === "greeter") {
    document.querySelector("h1").textContent = "greeter from a browser";
    document.title = "h2rpc: greeter from a browser";
    await greeter();
    window.suite = { protocol: nav ? nav.nextHopProtocol : "", rows };
    document.body.dataset.done = "1";
    return;
  }
  const registry = await loadRegistry("route_guide.binpb");
  const service = registry.getService("routeguide.RouteGuide");
  const method = (name) => service.methods.find((m) => m.name === name);
  const Point = registry.getMessage("routeguide.Point");
  const Rectangle = registry.getMessage("routeguide.Rectangle");
  const RouteNote = registry.getMessage("routeguide.RouteNote");

  // connect-web, both transports: unary and server streaming.
  for (const [name, transport] of [
    ["connect-web (Connect)", createConnectTransport({ baseUrl: location.origin })],
    ["connect-web (gRPC-Web)", createGrpcWebTransport({ baseUrl: location.origin })],
  ]) {
    const client = createClient(service, transport);
    await run(name, "GetFeature (unary)",
              async () => featureText(await client.getFeature(create(Point, PATRIOTS))));
    await run(name, "ListFeatures (server streaming)", async () => {
      const got = [];
      for await (const f of client.listFeatures(create(Rectangle, RECT))) got.push(f);
      return listText(got);
    });
  }

  // grpc-web (text mode): the same two calls, messages (de)serialized by @bufbuild/protobuf.
  const web = new GrpcWebClientBase({ format: "text" });
  const descriptor = (m, type) => new MethodDescriptor(
      `/routeguide.RouteGuide/${m.name}`, type, Object, Object,
      (req) => toBinary(m.input, req), (bytes) => fromBinary(m.output, bytes));
  const getFeature = method("GetFeature"), listFeatures = method("ListFeatures");
  await run("grpc-web (text)", "GetFeature (unary)", () => new Promise((resolve, reject) => {
    web.rpcCall(`${location.origin}/routeguide.RouteGuide/GetFeature`, create(Point, PATRIOTS), {},
                descriptor(getFeature, MethodType.UNARY),
                (err, f) => (err ? reject(new Error(`${err.code}: ${err.message}`))
                                 : resolve(featureText(f))));
  }));
  await run("grpc-web (text)", "ListFeatures (server streaming)", () =>
    new Promise((resolve, reject) => {
      const got = [];
      const stream = web.serverStreaming(
          `${location.origin}/routeguide.RouteGuide/ListFeatures`, create(Rectangle, RECT), {},
          descriptor(listFeatures, MethodType.SERVER_STREAMING));
      stream.on("data", (f) => got.push(f));
      stream.on("error", (err) => reject(new Error(`${err.code}: ${err.message}`)));
      stream.on("end", () => resolve(listText(got)));
    }));

  // Client streaming and bidi: fetch with a streamed body, which browsers send over HTTP/2 only.
  const points = [PATRIOTS, PATRIOTS, { latitude: 0, longitude: 0 }].map((p) => create(Point, p));
  const notes = NOTES.map(([message, latitude, longitude]) =>
      create(RouteNote, { message, location: { latitude, longitude } }));
  if (h2) {
    await run("fetch (Connect streaming)", "RecordRoute (client streaming)", async () => {
      const [summary] = await connectStream(method("RecordRoute"), points);
      return `${summary.pointCount} points, ${summary.featureCount} features`;
    });
    await run("fetch (Connect streaming)", "RouteChat (bidi, half-duplex)", async () => {
      const got = await connectStream(method("RouteChat"), notes);
      return got.map((n) => `"${n.message}" at (${n.location.latitude}, ${n.location.longitude})`)
                .join(" | ");
    });
  } else {
    // The browser's limit, shown as such: a streamed request body needs HTTP/2.
    try {
      await connectStream(method("RecordRoute"), points);
      record("fetch (Connect streaming)", "RecordRoute (client streaming)", "fail",
             "a streamed body went over HTTP/1.1?");
    } catch (e) {
      record("fetch (Connect streaming)", "RecordRoute (client streaming)", "limit",
             `browser refuses over HTTP/1.1: ${e.message}`);
    }
  }
  window.suite = { protocol: nav ? nav.nextHopProtocol : "", rows };
  document.body.dataset.done = "1";
}

main().catch((e) => {
  record("page", "setup", "fail", String(e && e.stack || e));
  window.suite = { protocol: "", rows };
  document.body.dataset.done = "1";
});
