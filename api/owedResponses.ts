import http from 'node:http';
import type { Socket } from 'node:net';
import { type ErrorCode, MiraiError } from '../domain/errors';
import { errorBody } from './errorResponse';

/**
 * The responses each connection still owes, oldest first, so that a
 * connection is closed only after it has answered every request the app
 * was given. Node on its own closes a keep-alive connection too early in
 * several cases, each leaving requests the app carried out (orders
 * placed) unanswered:
 * - a malformed request, data after `Connection: close`, or a CONNECT,
 *   arriving behind requests still being answered: Node writes a bare
 *   400 (or nothing) and destroys the socket;
 * - a graceful stop: `server.close()` destroys every connection whose
 *   current answer is written, even with more answers queued behind it.
 *
 * Here, a connection that must close is closed after its last owed
 * response; a request read from it after that point is never given to
 * the app. A request Node cannot parse gets its 400 (or 408, 413, 431)
 * in the API's error format when nothing is owed before it; behind owed
 * answers, a body that breaks off gets its 400 after them, and anything
 * else malformed only closes the connection after them. A client
 * that closes its side of the connection (FIN) is taken as gone, as Node
 * and nginx take it: what it was waiting for is counted as 499 and not
 * answered.
 */
export class OwedResponses {
  private readonly owed = new Map<Socket, http.ServerResponse[]>();
  /** Every open connection, owing or idle. */
  private readonly sockets = new Set<Socket>();
  /** Connections to end once they owe nothing. */
  private readonly closing = new WeakSet<Socket>();
  /** Connections ended by us: nothing more is given to the app. */
  private readonly ended = new WeakSet<Socket>();
  /**
   * The error answer of a request Node could not finish reading, to be
   * written once the answers before it are out.
   */
  private readonly brokenOff = new WeakMap<
    Socket,
    { res: http.ServerResponse; answer: string }
  >();
  /** A request the app answered before its body was read in full. */
  private readonly answeredUnread = new WeakMap<Socket, http.IncomingMessage>();
  private stopping = false;

  /** Responses owed over all connections. */
  get size(): number {
    let count = 0;
    for (const responses of this.owed.values()) count += responses.length;
    return count;
  }

  /**
   * The request listener to serve `app` with: it gives the app every
   * request but those read from a connection already closing behind
   * an answer that cannot be moved.
   */
  admitting(app: http.RequestListener): http.RequestListener {
    return (req, res) => {
      if (this.admit(req.socket, res)) app(req, res);
      // Nothing more from it will be served: read no more of it, or a
      // client could queue requests without end.
      else req.socket.pause();
    };
  }

  /**
   * Takes over what `server` does with requests it cannot parse, with
   * CONNECT, and with idle connections when it closes.
   */
  watch(server: http.Server): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      // A queued answer whose connection died never emits `close`.
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.owed.delete(socket);
      });
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) =>
      this.onClientError(error, socket),
    );
    // Without a listener Node destroys the socket, answers owed or not.
    // It hands the socket over without its own error handler: a reset
    // must not become an unhandled error.
    server.on('connect', (_req: http.IncomingMessage, socket: Socket) => {
      socket.on('error', () => socket.destroy());
      this.onClientError(
        Object.assign(new Error('CONNECT'), { code: 'CONNECT' }),
        socket,
      );
    });
    // server.close() calls this; Node's own would also destroy
    // connections whose current answer is written but which still owe
    // answers queued behind it.
    server.closeIdleConnections = () => this.closeIdle();
    // Node's own misses connections it handed to a `connect` listener.
    server.closeAllConnections = () => {
      for (const socket of this.sockets) socket.destroy();
    };
  }

  /**
   * A graceful stop: from now on each connection closes once it owes
   * nothing, the one it is answering last carrying `Connection: close`.
   */
  closeAll(): void {
    this.stopping = true;
    for (const socket of this.owed.keys()) this.closeAfterOwed(socket);
  }

  private closeIdle(): void {
    for (const socket of this.sockets) {
      if (!this.owed.has(socket)) this.end(socket);
    }
  }

  private admit(socket: Socket, res: http.ServerResponse): boolean {
    if (this.ended.has(socket) || this.brokenOff.has(socket)) return false;
    const responses = this.owed.get(socket) ?? [];
    if (this.stopping || this.closing.has(socket)) {
      const last = responses.at(-1);
      // That answer's headers, Connection: close or keep-alive, are
      // written: the connection ends after it, before this one's.
      if (last?.headersSent) return false;
      last?.removeHeader('Connection');
      res.setHeader('Connection', 'close');
      this.closing.add(socket);
    }
    responses.push(res);
    this.owed.set(socket, responses);
    res.once('close', () => this.answered(socket, res));
    return true;
  }

  private answered(socket: Socket, res: http.ServerResponse): void {
    const responses = this.owed.get(socket);
    const at = responses ? responses.indexOf(res) : -1;
    if (!responses || at === -1) return;
    responses.splice(at, 1);
    if (!res.req.complete) this.answeredUnread.set(socket, res.req);
    const broken = this.brokenOff.get(socket);
    // The app answered the broken-off request itself: that is its answer.
    if (broken?.res === res) this.brokenOff.delete(socket);
    if (broken && responses.length === 1 && responses[0] === broken.res) {
      this.owed.delete(socket);
      this.endWith(socket, broken.answer);
      return;
    }
    if (responses.length > 0) return;
    this.owed.delete(socket);
    if (this.stopping || this.closing.has(socket)) this.end(socket);
  }

  private closeAfterOwed(socket: Socket): void {
    this.closing.add(socket);
    const last = this.owed.get(socket)?.at(-1);
    if (!last) this.end(socket);
    else if (!last.headersSent) last.setHeader('Connection', 'close');
    // Else it is answered already: `answered` ends the connection.
  }

  /**
   * Ends the connection and, once the FIN is out, destroys it, as Node
   * does after `Connection: close`: a client that kept it open and
   * writing would otherwise hold memory and the stop.
   */
  private end(socket: Socket): void {
    this.ended.add(socket);
    socket.end(() => socket.destroy());
  }

  /**
   * Writes `answer` as raw bytes and closes the connection. The app may
   * still answer the request it was reading; its answer then goes
   * nowhere, as with Node's own client-error answers.
   */
  private endWith(socket: Socket, answer: string): void {
    this.ended.add(socket);
    socket.end(answer, () => socket.destroy());
  }

  private onClientError(error: NodeJS.ErrnoException, socket: Socket): void {
    if (!socket.writable || CLIENT_GONE.has(error.code ?? '')) {
      socket.destroy();
      return;
    }
    // Already decided: the parser keeps failing on what follows.
    if (this.brokenOff.has(socket) || this.ended.has(socket)) return;
    // The body that broke off belongs to a request already answered.
    if (this.answeredUnread.get(socket)?.complete === false) {
      this.closeAfterOwed(socket);
      return;
    }
    const answer = rawErrorAnswer(error.code);
    const responses = this.owed.get(socket) ?? [];
    const last = responses.at(-1);
    if (last && !last.req.complete && !last.writableEnded) {
      // The request being read broke off (or ran out of time): its error
      // goes out after the answers owed before it.
      if (responses.length === 1) {
        this.owed.delete(socket);
        this.endWith(socket, answer);
      } else {
        this.brokenOff.set(socket, { res: last, answer });
        this.closing.add(socket);
      }
      return;
    }
    if (last) {
      // Nothing more can be read; answer what was read first.
      this.closeAfterOwed(socket);
      return;
    }
    this.endWith(socket, answer);
  }
}

/** Client errors that mean the client is gone: nothing can reach it. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'HPE_INVALID_EOF_STATE']);

/** Node's own status for a request it cannot serve, with our code. */
const clientErrorAnswer = (
  nodeCode: string | undefined,
): [number, ErrorCode, string] => {
  switch (nodeCode) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'INVALID_REQUEST', 'Request headers are too large'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'PAYLOAD_TOO_LARGE', 'Chunk extensions are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'INVALID_REQUEST', 'The request did not arrive in time'];
    case 'CONNECT':
      return [405, 'INVALID_REQUEST', 'CONNECT is not supported'];
    default:
      return [400, 'INVALID_REQUEST', 'Malformed HTTP request'];
  }
};

/** A whole HTTP response, in the API's error format, that closes. */
const rawErrorAnswer = (nodeCode: string | undefined): string => {
  const [status, code, message] = clientErrorAnswer(nodeCode);
  const body = JSON.stringify(errorBody(new MiraiError(code, message)));
  return (
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n\r\n${body}`
  );
};
