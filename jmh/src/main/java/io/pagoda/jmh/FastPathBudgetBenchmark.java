package io.pagoda.jmh;

import io.pagoda.PageAllocator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

/**
 * Where the time of a cached 4 KiB pair goes: a model of the per-thread page cache, built up one
 * duty at a time, beside Pagoda's own pair, in one run. The per-thread cache issue set its
 * budget from such a model (about 6 ns); each step adds what Pagoda's pair must also do.
 *
 * <ol>
 *   <li>{@code model}: the model pair. The thread's cache found twice through a
 *       {@link ThreadLocal}, a pop and a push on an int stack (with the empty and full checks), a
 *       check of the block's descriptor, address math;</li>
 *   <li>{@code modelStates}: + the descriptor's state written on both sides, ALLOCATED when handed
 *       out and CACHED when freed: what lets a free of a block already free be refused;</li>
 *   <li>{@code modelDrain}: + the drain protocol around the pop and the push (a busy flag written
 *       before and after, a drain request read), what lets another thread take the cache of a
 *       thread that is idle or blocked;</li>
 *   <li>{@code modelCounted}: + the free counter that the cache's statistics report (the hits
 *       are derived from it, off the fast path);</li>
 *   <li>{@code pagodaPages}: {@code allocatePages(0)} + {@code freePages(address, 0)}, which also
 *       checks the allocator is open, the order, the address and the debug switch, and finds the
 *       thread's cache in a table by thread id instead of a ThreadLocal.</li>
 * </ol>
 * The models keep their descriptors in an off-heap segment of a shared arena, as Pagoda does, and
 * throw where Pagoda would refuse or take its slow path, which never happens here. Every pair is a
 * call the JIT may not inline into JMH's loop: inlined, a model's loads of its fields and of the
 * segment's bounds and scope were hoisted out of the loop, which no caller doing other work
 * between its allocations would see (Pagoda's drain protocol already forbids it that).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class FastPathBudgetBenchmark {

    private static final int PAGE_SHIFT = 12;
    private static final int DESCRIPTOR_SHIFT = 5;
    private static final int FRAMES = 64;
    private static final int CACHED = 3;
    private static final int ALLOCATED = 2;
    private static final VarHandle BUSY;
    private static final VarHandle DRAIN_REQUESTED;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            BUSY = lookup.findVarHandle(ModelCache.class, "busy", int.class);
            DRAIN_REQUESTED = lookup.findVarHandle(ModelCache.class, "drainRequested", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** One thread's cache of order-0 blocks, as the model sees it. */
    static final class ModelCache {
        final int[] stack = new int[FRAMES];
        int count;
        long frees;
        int busy;
        int drainRequested;
    }

    private final ThreadLocal<ModelCache> caches = ThreadLocal.withInitial(ModelCache::new);
    private Arena arena;
    private MemorySegment descriptors;
    /** Where the model's frames would start: a field, not a constant, as in Pagoda. */
    private long base;
    /**
     * The same base, read by the free: were it the same field, the JIT would see that the block
     * freed is the one just handed out, and fold the free's descriptor check (and the store before
     * it) away. User code between the two calls hides that from it just as well.
     */
    private long freeBase;
    private PageAllocator pages;

    @Setup(Level.Trial)
    public void setUp() {
        base = 1L << 40;
        freeBase = base;
        arena = Arena.ofShared();
        descriptors = arena.allocate((long) FRAMES << DESCRIPTOR_SHIFT, 32);
        ModelCache cache = caches.get();
        for (int pfn = 0; pfn < FRAMES / 2; pfn++) {
            cache.stack[cache.count++] = pfn;
            descriptors.set(JAVA_INT_UNALIGNED, (long) pfn << DESCRIPTOR_SHIFT, CACHED);
        }
        pages = PageAllocator.builder().capacity(1L << 30).build();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pages.close();
        arena.close();
    }

    @Benchmark
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long model() {
        return pair(false, false, false);
    }

    @Benchmark
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long modelStates() {
        return pair(true, false, false);
    }

    @Benchmark
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long modelDrain() {
        return pair(true, true, false);
    }

    @Benchmark
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long modelCounted() {
        return pair(true, true, true);
    }

    @Benchmark
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long pagodaPages() {
        long address = pages.allocatePages(0);
        pages.freePages(address, 0);
        return address;
    }

    /** A pop and a push, doing what the flags ask; constant arguments let the JIT drop the rest. */
    private long pair(boolean states, boolean drain, boolean counted) {
        ModelCache cache = caches.get();
        enter(cache, drain);
        if (cache.count == 0) {
            throw new IllegalStateException("empty: the slow path would refill");
        }
        int pfn = cache.stack[--cache.count];
        exit(cache, drain);
        if (states) {
            descriptors.set(JAVA_INT_UNALIGNED, (long) pfn << DESCRIPTOR_SHIFT, ALLOCATED);
        }
        long address = base + ((long) pfn << PAGE_SHIFT);

        int freed = (int) ((address - freeBase) >>> PAGE_SHIFT);
        long descriptor = (long) freed << DESCRIPTOR_SHIFT;
        if (descriptors.get(JAVA_INT_UNALIGNED, descriptor) != (states ? ALLOCATED : CACHED)) {
            throw new IllegalStateException("not an allocated block: " + freed);
        }
        if (states) {
            descriptors.set(JAVA_INT_UNALIGNED, descriptor, CACHED);
        }
        ModelCache mine = caches.get();
        enter(mine, drain);
        if (mine.count == FRAMES) {
            throw new IllegalStateException("full: the slow path would drain");
        }
        mine.stack[mine.count++] = freed;
        if (counted) {
            mine.frees++;
        }
        exit(mine, drain);
        return address;
    }

    /** The owner's side of Pagoda's drain protocol (OwnedCache), with membarrier's free light fence. */
    private static void enter(ModelCache cache, boolean drain) {
        if (drain) {
            BUSY.setOpaque(cache, 1);
            if ((int) DRAIN_REQUESTED.getAcquire(cache) != 0) {
                throw new IllegalStateException("a drainer holds the cache: the slow path would go to the zone");
            }
        }
    }

    private static void exit(ModelCache cache, boolean drain) {
        if (drain) {
            BUSY.setRelease(cache, 0);
        }
    }
}
