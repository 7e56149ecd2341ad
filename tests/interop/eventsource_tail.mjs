// A real EventSource client (the `eventsource` package, WHATWG semantics, automatic reconnect
// with Last-Event-ID) for test_node_eventsource.py. It follows the stream at argv[2] and writes
// one JSON line per thing it sees to stdout:
//   {"kind":"connected"}                       the connection opened (EventSource `open`)
//   {"kind":"event","type":T,"id":I,"data":D}  an event of type T (`open`, `log`, `gap`, ...)
//   {"kind":"error","readyState":N}            the connection dropped or failed
// It exits when stdin closes, so it never outlives the test that started it.
import { EventSource } from 'eventsource';

const url = process.argv[2];
const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const source = new EventSource(url);

// The server's first event is named `open`, the same name as EventSource's own connection
// event: a MessageEvent (with data) is the server's, a plain Event is the connection's.
source.addEventListener('open', (event) => {
  if (typeof event.data === 'string') {
    emit({ kind: 'event', type: 'open', id: event.lastEventId, data: event.data });
  } else {
    emit({ kind: 'connected' });
  }
});
for (const type of ['log', 'gap', 'span', 'heartbeat', 'message']) {
  source.addEventListener(type, (event) => {
    emit({ kind: 'event', type, id: event.lastEventId, data: event.data });
  });
}
source.addEventListener('error', () => emit({ kind: 'error', readyState: source.readyState }));

process.stdin.resume();
process.stdin.on('end', () => {
  source.close();
  process.exit(0);
});
