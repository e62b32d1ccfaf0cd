package io.pagoda.jmh;

import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;

/**
 * How the benchmarks make Netty's allocators: each benchmark state gets its own instances, built
 * with Netty's defaults, and Netty's leak detector is turned off, as Netty's own microbenchmarks do
 * (its default, {@code SIMPLE}, tracks one buffer in 128 with a weak reference and a record).
 *
 * <p>What Netty 4.2.7 does by default on JDK 25, and so in these benchmarks:
 * <ul>
 *   <li>no {@code sun.misc.Unsafe} ({@code io.netty.noUnsafe=true} by default on Java 25+), so
 *       pooled direct buffers are {@code PooledDirectByteBuf} over {@code ByteBuffer}s;</li>
 *   <li>{@link PooledByteBufAllocator} gives a thread its own cache only on a
 *       {@code FastThreadLocalThread} (or an event loop); on JMH's plain worker threads
 *       ({@code io.netty.allocator.useCacheForAllThreads=false}) every allocation goes to a
 *       shared arena, under its lock. Run with {@link FastThreadLocalExecutor} for the cached path;</li>
 *   <li>{@link AdaptiveByteBufAllocator} uses per-thread magazines only on event-loop threads,
 *       or on {@code FastThreadLocalThread}s when
 *       {@code -Dio.netty.allocator.useCachedMagazinesForNonEventLoopThreads=true}; other threads
 *       share striped magazines.</li>
 * </ul>
 * Blocks of 32 KiB and less are cached per thread by the pooled allocator
 * ({@code maxCachedBufferCapacity}); 64 KiB always goes to the arena.
 */
final class Netty {

    private Netty() {
    }

    static PooledByteBufAllocator pooled() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        return new PooledByteBufAllocator(true);
    }

    static AdaptiveByteBufAllocator adaptive() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        return new AdaptiveByteBufAllocator(true);
    }
}
