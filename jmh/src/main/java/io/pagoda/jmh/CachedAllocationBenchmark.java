package io.pagoda.jmh;

import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.pagoda.PageAllocator;
import io.pagoda.netty.PagodaByteBufAllocator;
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
 * One allocation and its release on one thread, from 64 B to 64 KiB, with the allocators' caches
 * warm: Pagoda against the pools and allocators a JVM service would use instead, measured in the
 * same run.
 *
 * <ul>
 *   <li>{@code pagodaAddress}: {@code allocateAddress(size)} + {@code freeAddress}. 64 B to 1 KiB
 *       are slab objects from the thread's magazine; 4 KiB and 16 KiB (orders 0 and 2) are blocks
 *       from the thread's page cache; 64 KiB is order 4, above the cached orders (0 to 3), so it
 *       goes to the zone under its lock, splitting and merging buddies;</li>
 *   <li>{@code pagodaAddressMidPage}: the same pair, from an allocator that handed out one object
 *       of the size before the run and keeps it. A pair on one thread recycles one object, the
 *       first it was given: in {@code pagodaAddress}, a fresh slab's first, which starts a page
 *       and so costs its free a read of the page's info word (is it a cached block?) before the
 *       slab layer's. Here it is the slab's second, as most objects are (15 in 16 at 256 B). From
 *       4 KiB up both recycle a block and measure the same;</li>
 *   <li>{@code pagodaPages}: the page API, {@code allocatePages(order)} + {@code freePages(address,
 *       order)}, for the order that holds the size (a whole page below 4 KiB): the per-thread page
 *       cache without size classes;</li>
 *   <li>{@code pagodaZeroed}: the same as {@code pagodaAddress} from an allocator built with
 *       {@code zeroed(true)}, which zeroes the whole object or block on every allocation;</li>
 *   <li>{@code pagodaSegment}: {@code allocate(size)} + {@code free(segment)}, which makes one
 *       40-byte {@code MemorySegment} per pair when it escapes, as here;</li>
 *   <li>{@code nettyPooled}, {@code nettyAdaptive}: Netty 4.2's {@code PooledByteBufAllocator} and
 *       {@code AdaptiveByteBufAllocator}, {@code directBuffer(size, size)} + {@code release()}.
 *       On JMH's own worker threads neither uses its per-thread cache (see {@link Netty}); run
 *       with {@link FastThreadLocalExecutor} for Netty as it runs on its event loops;</li>
 *   <li>{@code ffmMalloc}: the C library's {@code malloc} + {@code free} through FFM downcalls
 *       ({@link Libc});</li>
 *   <li>{@code jemalloc}: {@code je_malloc} + {@code je_free} through LWJGL ({@link Jemalloc});
 *       fails with a clear message where its natives do not load;</li>
 *   <li>{@code arenaConfined}: {@code Arena.ofConfined().allocate(size)} + {@code close()};</li>
 *   <li>{@code allocateDirect}: {@link ByteBuffer#allocateDirect}, dropped and left to the GC and
 *       the buffer's cleaner, as users free it today.</li>
 * </ul>
 * Pagoda and the pools hand back memory as it was left; the arena and {@code allocateDirect}
 * zero it, which is most of their cost at the larger sizes. Run with {@code -prof gc} to see the
 * heap bytes each pair allocates.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CachedAllocationBenchmark {

    @Param({"64", "256", "1024", "4096", "16384", "65536"})
    int size;

    private PageAllocator pages;
    private PageAllocator zeroing;
    /** Built as {@link #pages}, with one object or block of {@code size} kept out from the start. */
    private PageAllocator midPage;
    /** The page API's order for {@code size}, found once: the size-to-order step is not what is measured. */
    private int order;
    private PooledByteBufAllocator pooled;
    private PagodaByteBufAllocator pagodaNetty;
    private AdaptiveByteBufAllocator adaptive;

    /** Loads jemalloc before the jemalloc benchmark runs, or fails it with the reason. */
    @State(Scope.Benchmark)
    public static class JemallocLibrary {
        @Setup(Level.Trial)
        public void load() {
            Jemalloc.requireLoaded();
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        pages = PageAllocator.builder().capacity(1L << 30).build();
        zeroing = PageAllocator.builder().capacity(1L << 30).zeroed(true).build();
        midPage = PageAllocator.builder().capacity(1L << 30).build();
        midPage.allocateAddress(size);
        order = pages.orderForSize(size);
        pooled = Netty.pooled();
        pagodaNetty = new PagodaByteBufAllocator(pages);
        adaptive = Netty.adaptive();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pages.close();
        zeroing.close();
        midPage.close();
    }

    @Benchmark
    public long pagodaAddress() {
        long address = pages.allocateAddress(size);
        pages.freeAddress(address);
        return address;
    }

    /** The address pair on an object that does not start a page (see the class comment). */
    @Benchmark
    public long pagodaAddressMidPage() {
        long address = midPage.allocateAddress(size);
        midPage.freeAddress(address);
        return address;
    }

    @Benchmark
    public long pagodaPages() {
        int order = this.order;
        long address = pages.allocatePages(order);
        pages.freePages(address, order);
        return address;
    }

    /** The address API with {@code zeroed(true)}: what __GFP_ZERO costs. */
    @Benchmark
    public long pagodaZeroed() {
        long address = zeroing.allocateAddress(size);
        zeroing.freeAddress(address);
        return address;
    }

    @Benchmark
    public long pagodaSegment() {
        MemorySegment segment = pages.allocate(size);
        pages.free(segment);
        return segment.address();
    }

    @Benchmark
    public ByteBuf nettyPooled() {
        ByteBuf buffer = pooled.directBuffer(size, size);
        buffer.release();
        return buffer;
    }

    /** Pagoda behind Netty's ByteBuf API ({@link PagodaByteBufAllocator}): what a Netty server pays. */
    @Benchmark
    public ByteBuf pagodaNetty() {
        ByteBuf buffer = pagodaNetty.directBuffer(size, size);
        buffer.release();
        return buffer;
    }

    @Benchmark
    public ByteBuf nettyAdaptive() {
        ByteBuf buffer = adaptive.directBuffer(size, size);
        buffer.release();
        return buffer;
    }

    @Benchmark
    public long ffmMalloc() {
        long address = Libc.malloc(size);
        Libc.free(address);
        return address;
    }

    @Benchmark
    public long jemalloc(JemallocLibrary loaded) {
        long address = Jemalloc.malloc(size);
        Jemalloc.free(address);
        return address;
    }

    @Benchmark
    public long arenaConfined() {
        try (Arena arena = Arena.ofConfined()) {
            return arena.allocate(size).address();
        }
    }

    @Benchmark
    public void allocateDirect(Blackhole blackhole) {
        blackhole.consume(ByteBuffer.allocateDirect(size));
    }
}
