package io.pagoda.examples.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A small Netty HTTP/1.1 keep-alive server on the NIO transport, whose every buffer comes from the
 * allocator it is given (set as the server's and the connections' {@link ChannelOption#ALLOCATOR}):
 * the codec's read and encode buffers, and each response body, taken from {@code ctx.alloc()}.
 * It answers every GET with the configured body, and any other method with 405 and a close; an
 * HTTP/1.1 connection stays open unless the client says {@code Connection: close}, an HTTP/1.0
 * one is closed after its response. Requests are not aggregated: a GET's headers are enough.
 */
final class NettyHttpServer implements HttpServer {

    private final EventLoopGroup acceptor;
    private final EventLoopGroup workers;
    private final Channel listener;

    private NettyHttpServer(EventLoopGroup acceptor, EventLoopGroup workers, Channel listener) {
        this.acceptor = acceptor;
        this.workers = workers;
        this.listener = listener;
    }

    /**
     * Starts a server listening on {@code address}, with {@code threads} event loops serving the
     * connections.
     *
     * @throws IllegalArgumentException if {@code threads} is not positive
     */
    static NettyHttpServer start(InetSocketAddress address, ByteBufAllocator allocator, int bodyBytes, int threads) {
        Objects.requireNonNull(allocator, "allocator");
        if (threads <= 0) {
            throw new IllegalArgumentException("threads must be positive: " + threads);
        }
        byte[] body = ResponseBody.of(bodyBytes);
        EventLoopGroup acceptor = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(threads, NioIoHandler.newFactory());
        try {
            Channel listener = new ServerBootstrap()
                    .group(acceptor, workers)
                    .channel(NioServerSocketChannel.class)
                    .option(ChannelOption.ALLOCATOR, allocator)
                    .childOption(ChannelOption.ALLOCATOR, allocator)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel channel) {
                            channel.pipeline().addLast(new HttpServerCodec(), new BodyHandler(body));
                        }
                    })
                    .bind(address).syncUninterruptibly().channel();
            return new NettyHttpServer(acceptor, workers, listener);
        } catch (RuntimeException bindFailed) {
            acceptor.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw bindFailed;
        }
    }

    @Override
    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    /** Shutting an event loop down closes its connections, which releases their buffers on it. */
    @Override
    public void close() {
        if (acceptor.isShuttingDown()) {
            return; // closed before: the listener's event loop is gone
        }
        listener.close().syncUninterruptibly();
        acceptor.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        acceptor.terminationFuture().syncUninterruptibly();
        workers.terminationFuture().syncUninterruptibly();
    }

    /**
     * Answers each request as soon as its headers are decoded; the body parts that follow (none
     * for a GET) are released by {@link SimpleChannelInboundHandler}. Responses are flushed once
     * per read, so that a pipelined batch goes out in one write.
     */
    private static final class BodyHandler extends SimpleChannelInboundHandler<HttpObject> {

        private final byte[] body;

        BodyHandler(byte[] body) {
            this.body = body;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject message) {
            if (!(message instanceof HttpRequest request)) {
                return;
            }
            boolean get = HttpMethod.GET.equals(request.method());
            boolean keepAlive = get && request.protocolVersion().equals(HttpVersion.HTTP_1_1)
                    && HttpUtil.isKeepAlive(request);
            FullHttpResponse response = get
                    ? response(HttpResponseStatus.OK, ctx.alloc().buffer(body.length).writeBytes(body))
                    : response(HttpResponseStatus.METHOD_NOT_ALLOWED, ctx.alloc().buffer(0));
            if (keepAlive) {
                ctx.write(response);
            } else {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            }
        }

        private static FullHttpResponse response(HttpResponseStatus status, ByteBuf content) {
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
            response.headers()
                    .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
            return response;
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a reset by the client; the load test's connections end that way
        }
    }
}
