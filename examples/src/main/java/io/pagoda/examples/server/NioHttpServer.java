package io.pagoda.examples.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * A plain NIO HTTP/1.1 keep-alive server (no Netty): one thread accepts, and each of a few event
 * loops runs a selector over its share of the connections. Buffers are taken per request, as
 * naive code does: a request's read buffer when its first bytes arrive, its response buffer when
 * its headers are complete, both given back to {@link RequestBuffers} once the response is written
 * (a connection between requests holds none). The showdown runs it with Pagoda's
 * {@code allocateBuffer}/{@code release} and with {@code ByteBuffer.allocateDirect}.
 *
 * <p>It answers a GET with the configured body, keeps an HTTP/1.1 connection open unless the
 * client says {@code Connection: close}, and closes after answering anything else: 405 for
 * another method (a request body is never read), 400 for a malformed request line, 431 for a
 * request head larger than its read buffer. Pipelined requests are answered in order.
 */
final class NioHttpServer implements HttpServer {

    /** Room for a request's head: wrk's GETs take under 100 bytes, browsers' under 2 KiB. */
    static final int REQUEST_BUFFER_BYTES = 4096;

    /** CR LF CR LF: the blank line that ends a request's head. */
    private static final int END_OF_HEAD_BYTES = 4;

    private final ServerSocketChannel listener;
    private final List<EventLoop> loops = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();

    private NioHttpServer(ServerSocketChannel listener) {
        this.listener = listener;
    }

    /**
     * Starts a server listening on {@code address}, with {@code threads} event loops.
     *
     * @throws IllegalArgumentException if {@code threads} is not positive
     * @throws UncheckedIOException     if the address cannot be bound
     */
    static NioHttpServer start(InetSocketAddress address, RequestBuffers buffers, int bodyBytes, int threads) {
        Objects.requireNonNull(buffers, "buffers");
        if (threads <= 0) {
            throw new IllegalArgumentException("threads must be positive: " + threads);
        }
        RawHttp responses = new RawHttp(ResponseBody.of(bodyBytes));
        try {
            NioHttpServer server = new NioHttpServer(ServerSocketChannel.open().bind(address, 1024));
            for (int i = 0; i < threads; i++) {
                EventLoop loop = new EventLoop(Selector.open(), buffers, responses);
                server.loops.add(loop);
                server.threads.add(Thread.ofPlatform().name("nio-http-" + i).start(loop));
            }
            server.threads.add(Thread.ofPlatform().name("nio-http-accept").start(server::accept));
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start an HTTP server on " + address, e);
        }
    }

    @Override
    public int port() {
        return listener.socket().getLocalPort();
    }

    /** Hands each new connection to the next loop, round robin, until the listener closes. */
    private void accept() {
        try {
            for (int next = 0; ; next = (next + 1) % loops.size()) {
                SocketChannel channel = listener.accept();
                try {
                    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                } catch (IOException reset) {
                    Connection.closeQuietly(channel); // gone before it was served: take the next one
                    continue;
                }
                loops.get(next).adopt(channel);
            }
        } catch (ClosedChannelException closed) {
            // close() closed the listener: stop accepting
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Closes the listener, then each loop closes its connections, giving their buffers back. */
    @Override
    public void close() {
        try {
            listener.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        loops.forEach(EventLoop::stop);
        try {
            for (Thread thread : threads) {
                thread.join();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the server's threads were stopping", e);
        }
    }

    /** One selector thread and the connections it serves. */
    private static final class EventLoop implements Runnable {

        private final Selector selector;
        private final RequestBuffers buffers;
        private final RawHttp responses;
        private final Queue<SocketChannel> adopted = new ConcurrentLinkedQueue<>();
        private volatile boolean stopping;

        EventLoop(Selector selector, RequestBuffers buffers, RawHttp responses) {
            this.selector = selector;
            this.buffers = buffers;
            this.responses = responses;
        }

        /** Called by the acceptor: the loop registers the channel on its own thread. */
        void adopt(SocketChannel channel) {
            adopted.add(channel);
            selector.wakeup();
        }

        void stop() {
            stopping = true;
            selector.wakeup();
        }

        @Override
        public void run() {
            try (selector) {
                while (!stopping) {
                    selector.select();
                    registerAdopted();
                    for (SelectionKey key : selector.selectedKeys()) {
                        ((Connection) key.attachment()).onReady(key);
                    }
                    selector.selectedKeys().clear();
                }
                for (SelectionKey key : selector.keys()) {
                    ((Connection) key.attachment()).close();
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                adopted.forEach(Connection::closeQuietly);
            }
        }

        private void registerAdopted() throws IOException {
            for (SocketChannel channel; (channel = adopted.poll()) != null; ) {
                channel.configureBlocking(false);
                Connection connection = new Connection(channel, buffers, responses);
                connection.key = channel.register(selector, SelectionKey.OP_READ, connection);
            }
        }
    }

    /**
     * One client connection: the request being read and the response being written, each in a
     * buffer only while it exists.
     */
    private static final class Connection {

        private final SocketChannel channel;
        private final RequestBuffers buffers;
        private final RawHttp responses;
        private SelectionKey key;
        /** The bytes read and not yet answered, in [0, position); null when there are none. */
        private ByteBuffer in;
        /** The response being written, in [position, limit); null when there is none. */
        private ByteBuffer out;
        private boolean closeAfterResponse;

        Connection(SocketChannel channel, RequestBuffers buffers, RawHttp responses) {
            this.channel = channel;
            this.buffers = buffers;
            this.responses = responses;
        }

        void onReady(SelectionKey ready) {
            try {
                if (ready.isWritable()) {
                    flushThenAnswer();
                } else if (ready.isReadable()) {
                    read();
                }
            } catch (IOException reset) {
                close(); // the client went away mid-request; the load test's connections end so
            }
        }

        private void read() throws IOException {
            if (in == null) {
                in = buffers.allocate(REQUEST_BUFFER_BYTES);
            }
            if (channel.read(in) < 0) {
                close();
                return;
            }
            answerCompleteRequests();
        }

        /** Answers every complete request read so far, in order, while responses go out at once. */
        private void answerCompleteRequests() throws IOException {
            while (in != null && out == null && !closeAfterResponse) {
                int headEnd = endOfHead(in);
                if (headEnd < 0 && in.hasRemaining()) {
                    return; // the rest of the head is still on its way
                }
                RawHttp.Answer answer = headEnd < 0
                        ? RawHttp.Answer.HEAD_TOO_LARGE
                        : RawHttp.answer(headOf(in, headEnd));
                closeAfterResponse = !answer.keepAlive();
                out = responses.write(answer, buffers);
                consume(headEnd < 0 ? in.position() : headEnd);
                if (!flush()) {
                    return;
                }
            }
        }

        private void flushThenAnswer() throws IOException {
            if (flush()) {
                answerCompleteRequests();
            }
        }

        /**
         * Writes what it can of the response; once all of it is out, gives its buffer back and
         * closes the connection if the response said so.
         *
         * @return whether the response is all written (false: the rest waits for OP_WRITE)
         */
        private boolean flush() throws IOException {
            channel.write(out);
            if (out.hasRemaining()) {
                key.interestOps(SelectionKey.OP_WRITE);
                return false;
            }
            buffers.release(out);
            out = null;
            if (closeAfterResponse) {
                close();
                return false;
            }
            key.interestOps(SelectionKey.OP_READ);
            return true;
        }

        /** Drops the first {@code bytes} bytes read; gives the buffer back if nothing is left. */
        private void consume(int bytes) {
            if (bytes == in.position()) {
                buffers.release(in);
                in = null;
                return;
            }
            in.flip().position(bytes);
            in.compact();
        }

        void close() {
            if (in != null) {
                buffers.release(in);
                in = null;
            }
            if (out != null) {
                buffers.release(out);
                out = null;
            }
            closeQuietly(channel);
        }

        static void closeQuietly(SocketChannel channel) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing a connection that is going away anyway
            }
        }

        /** The index just past the first CRLF CRLF in [0, position), or -1. */
        private static int endOfHead(ByteBuffer buffer) {
            int end = buffer.position() - END_OF_HEAD_BYTES;
            for (int i = 0; i <= end; i++) {
                if (buffer.get(i) == '\r' && buffer.get(i + 1) == '\n'
                        && buffer.get(i + 2) == '\r' && buffer.get(i + 3) == '\n') {
                    return i + END_OF_HEAD_BYTES;
                }
            }
            return -1;
        }

        private static String headOf(ByteBuffer buffer, int headEnd) {
            byte[] head = new byte[headEnd - END_OF_HEAD_BYTES];
            buffer.get(0, head);
            return new String(head, StandardCharsets.ISO_8859_1);
        }
    }
}
