package io.pagoda.jmh;

import io.pagoda.Lifetime;
import io.pagoda.MemoryPolicy;
import io.pagoda.OutOfPagesException;
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

import java.util.concurrent.TimeUnit;

/**
 * What nodes cost a thread's allocate + free pair, caches warm, in the setups of
 * {@link CachedAllocationBenchmark}:
 * <ul>
 *   <li>{@code one}: one node, the allocator's shortest way;</li>
 *   <li>{@code own}: two nodes, the thread's own with room: its policy is looked up and its node's
 *       caches (or slabs) serve;</li>
 *   <li>{@code fallback}: two nodes, the thread's own full to its last frame: every allocation
 *       tries it first, then, as {@code LOCAL_PREFERRED} allows, takes the other node's.</li>
 * </ul>
 * {@code address} is {@code allocateAddress(size)} + {@code freeAddress}, on an object that does
 * not start a page (one object of the size is kept out from the start, as in
 * {@code CachedAllocationBenchmark.pagodaAddressMidPage}); {@code pages} is {@code allocatePages(0)}
 * + {@code freePages(address, 0)}, whatever the size.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class NodesBenchmark {

    @Param({"256", "4096"})
    int size;

    @Param({"one", "own", "fallback"})
    String nodes;

    private PageAllocator pages;

    @Setup(Level.Trial)
    public void setUp() {
        pages = PageAllocator.builder().capacity(1L << 30).nodes(nodes.equals("one") ? 1 : 2).build();
        if (nodes.equals("fallback")) {
            pages.bindCurrentThread(0, MemoryPolicy.BIND);
            for (int order = pages.maxOrder(); order >= 0; order--) {
                try {
                    while (true) {
                        pages.allocatePages(order, Lifetime.LONG_LIVED);
                    }
                } catch (OutOfPagesException full) {
                    // node 0 has no block of this order left: the next order down
                }
            }
            pages.bindCurrentThread(0, MemoryPolicy.LOCAL_PREFERRED);
        } else if (nodes.equals("own")) {
            pages.bindCurrentThread(1, MemoryPolicy.LOCAL_PREFERRED);
        }
        pages.allocateAddress(size); // kept: the pair takes a slab's second object, as most are
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pages.close();
    }

    @Benchmark
    public long address() {
        long address = pages.allocateAddress(size);
        pages.freeAddress(address);
        return address;
    }

    @Benchmark
    public long pages() {
        long address = pages.allocatePages(0);
        pages.freePages(address, 0);
        return address;
    }
}
