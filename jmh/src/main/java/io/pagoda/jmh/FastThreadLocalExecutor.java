package io.pagoda.jmh;

import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.FastThreadLocalThread;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A JMH executor whose worker threads are Netty {@link FastThreadLocalThread}s, so that Netty's
 * allocators run the benchmarks as they run on Netty's own threads: {@code PooledByteBufAllocator}
 * gives each such thread its own cache (on JMH's plain threads it does not, by default since Netty
 * 4.2), and {@code AdaptiveByteBufAllocator} gives it its own magazines when
 * {@code io.netty.allocator.useCachedMagazinesForNonEventLoopThreads=true}. Pagoda, malloc and the
 * rest run the same on these threads as on plain ones (they are platform threads).
 *
 * <p>JMH makes its workers' executor in the forked JVM from two system properties, so pass them
 * to the fork with {@code -jvmArgsPrepend} (which keeps the benchmarks' own
 * {@code @Fork(jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")}), for instance:
 * <pre>
 * mvn -q -B -pl jmh -am -DskipTests -Pbench verify -Djmh.args="CachedAllocation -prof gc
 *     -jvmArgsPrepend '-Djmh.executor=CUSTOM -Djmh.executor.class=io.pagoda.jmh.FastThreadLocalExecutor
 *     -Dio.netty.allocator.useCachedMagazinesForNonEventLoopThreads=true'"
 * </pre>
 * (on one line; JMH splits the quoted value at spaces). The fork's {@code # VM options:} line
 * shows the properties; the workers keep JMH's names, numbered by Netty's factory
 * ({@code ...-jmh-worker-<pool>-<thread>}), and are daemon threads like JMH's own.
 *
 * <p>JMH 1.37 ({@code BenchmarkHandler.ExecutorType.CUSTOM}) instantiates the class named by
 * {@code jmh.executor.class} through a public constructor taking the maximum number of threads
 * and a thread-name prefix, and submits every worker of an iteration at once, so the pool is fixed
 * at that many threads: the same threads serve every iteration, and keep their caches warm across
 * them, as JMH's default executor ({@code FIXED_TPE}) does.
 */
public final class FastThreadLocalExecutor extends ThreadPoolExecutor {

    /**
     * @param maxThreads the most workers JMH will run at once
     * @param prefix     JMH's name for the workers ({@code <benchmark>-jmh-worker-}); Netty's
     *                   factory adds the pool's and the thread's number
     */
    public FastThreadLocalExecutor(int maxThreads, String prefix) {
        super(maxThreads, maxThreads, 0L, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                new DefaultThreadFactory(prefix.endsWith("-") ? prefix.substring(0, prefix.length() - 1) : prefix,
                        true));
    }
}
