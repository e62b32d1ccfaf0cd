package io.pagoda.jmh;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.pagoda.PageAllocator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * How the 4 KiB allocate + free pair scales from one thread to two, every thread using the same
 * allocator: Pagoda's address API (each thread has its own page cache) and Netty's
 * {@code PooledByteBufAllocator} (threads are spread over its arenas; on JMH's plain worker
 * threads without a thread cache, see {@link Netty}). Each method is run at a fixed thread count,
 * so one run gives both: {@code pagoda1}/{@code pagoda2}, {@code nettyPooled1}/{@code nettyPooled2}.
 *
 * <p>Scores are throughput summed over the threads, in pairs per microsecond; the scaling is
 * {@code pagoda2 / pagoda1} (2.0 is perfect). On a machine with two cores, two threads take every
 * core, and JMH's own threads and the system compete with them. Other counts can be run with
 * {@code -t N}, which overrides the annotations of every method selected.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class ScalingBenchmark {

    private static final int SIZE = 4096;

    private PageAllocator pages;
    private PooledByteBufAllocator pooled;

    @Setup(Level.Trial)
    public void setUp() {
        pages = PageAllocator.builder().capacity(1L << 30).build();
        pooled = Netty.pooled();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pages.close();
    }

    private long pagodaPair() {
        long address = pages.allocatePages(0);
        pages.freePages(address, 0);
        return address;
    }

    private ByteBuf nettyPooledPair() {
        ByteBuf buffer = pooled.directBuffer(SIZE, SIZE);
        buffer.release();
        return buffer;
    }

    @Benchmark
    @Threads(1)
    public long pagoda1() {
        return pagodaPair();
    }

    @Benchmark
    @Threads(2)
    public long pagoda2() {
        return pagodaPair();
    }

    @Benchmark
    @Threads(1)
    public ByteBuf nettyPooled1() {
        return nettyPooledPair();
    }

    @Benchmark
    @Threads(2)
    public ByteBuf nettyPooled2() {
        return nettyPooledPair();
    }
}
