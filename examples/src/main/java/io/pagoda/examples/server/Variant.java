package io.pagoda.examples.server;

import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.pagoda.PageAllocator;
import io.pagoda.netty.PagodaByteBufAllocator;

import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.Objects;

/** The servers of the showdown: each server with each source of buffers it is compared with. */
enum Variant {
    /** Netty with Pagoda's {@link PagodaByteBufAllocator}. */
    NETTY_PAGODA("netty-pagoda", true),
    /** Netty with its pooled allocator, the default of Netty 4.1. */
    NETTY_POOLED("netty-pooled", false),
    /** Netty with its adaptive allocator, the default of Netty 4.2. */
    NETTY_ADAPTIVE("netty-adaptive", false),
    /** The plain NIO server with Pagoda's ByteBuffers, taken and released per request. */
    NIO_PAGODA("nio-pagoda", true),
    /** The plain NIO server with {@code ByteBuffer.allocateDirect} per request. */
    NIO_DIRECT("nio-direct", false);

    private final String label;
    private final boolean usesPagoda;

    Variant(String label, boolean usesPagoda) {
        this.label = label;
        this.usesPagoda = usesPagoda;
    }

    /** The name on the command line and in the table. */
    String label() {
        return label;
    }

    /** Whether {@link #start} needs a {@link PageAllocator}. */
    boolean usesPagoda() {
        return usesPagoda;
    }

    /**
     * Starts this variant's server on {@code address}.
     *
     * @param pages the allocator of a variant that {@link #usesPagoda()}; ignored by the others
     * @throws NullPointerException if this variant uses Pagoda and {@code pages} is null
     */
    HttpServer start(InetSocketAddress address, PageAllocator pages, int bodyBytes, int threads) {
        if (usesPagoda) {
            Objects.requireNonNull(pages, () -> label + " needs a PageAllocator");
        }
        return switch (this) {
            case NETTY_PAGODA -> NettyHttpServer.start(address, new PagodaByteBufAllocator(pages), bodyBytes, threads);
            case NETTY_POOLED -> NettyHttpServer.start(address, PooledByteBufAllocator.DEFAULT, bodyBytes, threads);
            case NETTY_ADAPTIVE -> NettyHttpServer.start(address, new AdaptiveByteBufAllocator(), bodyBytes, threads);
            case NIO_PAGODA -> NioHttpServer.start(address, RequestBuffers.pagoda(pages), bodyBytes, threads);
            case NIO_DIRECT -> NioHttpServer.start(address, RequestBuffers.allocateDirect(), bodyBytes, threads);
        };
    }

    /**
     * The variant of that label.
     *
     * @throws IllegalArgumentException if there is none
     */
    static Variant of(String label) {
        return Arrays.stream(values()).filter(variant -> variant.label.equals(label)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no server variant '" + label + "'; the variants are "
                        + Arrays.stream(values()).map(Variant::label).toList()));
    }
}
