package io.pagoda.jmh;

import io.pagoda.PageAllocator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * One allocation and its release, single-threaded, for blocks of 4 KiB, 64 KiB and 1 MiB: Pagoda's
 * buddy core, with the per-thread caches turned off so that every call takes the zone lock, splits
 * a 4 MiB block down and merges it back up (through the address API and the segment API), against
 * the JDK's two ways to get off-heap memory, measured in the same run. {@link CachedAllocationBenchmark}
 * measures the cached path.
 *
 * <ul>
 *   <li>{@code allocateDirect}: {@link ByteBuffer#allocateDirect} freed as users free it today,
 *       by dropping the reference and leaving it to the GC and the buffer's cleaner;</li>
 *   <li>{@code arenaConfined}: {@code Arena.ofConfined().allocate(size)} and {@code close()}.</li>
 * </ul>
 * Run with {@code -prof gc} to see the heap bytes each pair allocates.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class PageAllocationBenchmark {

    @Param({"4096", "65536", "1048576"})
    int size;

    private PageAllocator pages;
    private int order;

    @Setup(Level.Trial)
    public void setUp() {
        pages = PageAllocator.builder().capacity(1L << 30).cachedOrders(0).build();
        order = pages.orderForSize(size);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pages.close();
    }

    @Benchmark
    public long pagodaAddress() {
        long address = pages.allocatePages(order);
        pages.freePages(address, order);
        return address;
    }

    @Benchmark
    public long pagodaSegment() {
        MemorySegment segment = pages.allocate(size);
        pages.free(segment);
        return segment.address();
    }

    @Benchmark
    public void allocateDirect(Blackhole blackhole) {
        blackhole.consume(ByteBuffer.allocateDirect(size));
    }

    @Benchmark
    public long arenaConfined() {
        try (Arena arena = Arena.ofConfined()) {
            return arena.allocate(size).address();
        }
    }
}
