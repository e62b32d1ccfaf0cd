package io.pagoda.jmh;

import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.pagoda.PageAllocator;
import org.jctools.queues.atomic.SpscAtomicArrayQueue;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Control;

import java.util.concurrent.TimeUnit;

/**
 * 4 KiB blocks allocated on one thread and freed on another, as a server's I/O thread fills
 * buffers that a worker thread releases: each JMH group is two threads, a producer that allocates
 * a block and puts it on a bounded lock-free queue, and a consumer that takes blocks off and frees
 * them. The queue is JCTools' {@link SpscAtomicArrayQueue} (single producer, single consumer; field
 * updaters, no {@code sun.misc.Unsafe}) of {@value #QUEUE_CAPACITY} blocks: the producer waits
 * while it is full and the consumer while it is empty (spinning, then yielding), so at most that
 * many blocks are in flight, and the blocks still queued when an iteration ends are freed in its
 * teardown.
 *
 * <p>Groups, each with its {@code ...Allocate} and {@code ...Free} method:
 * <ul>
 *   <li>{@code pagoda}: {@code allocatePages(0)} / {@code freePages}. The producer's cache refills
 *       from the zone in batches and the consumer's cache, which only grows, gives batches back
 *       above its high mark;</li>
 *   <li>{@code nettyPooled}, {@code nettyAdaptive}: {@code directBuffer(4096, 4096)} /
 *       {@code release()}. On JMH's plain worker threads neither uses a per-thread cache (see
 *       {@link Netty}); run with {@link FastThreadLocalExecutor} for that;</li>
 *   <li>{@code ffmMalloc}: the C library's {@code malloc}/{@code free} through FFM ({@link Libc});</li>
 *   <li>{@code jemalloc}: {@code je_malloc}/{@code je_free} through LWJGL ({@link Jemalloc}).</li>
 * </ul>
 *
 * <p>Reading the results: each method's score is the time per block on that thread, waiting
 * included, so both are close to the time per block through the pipeline (the slower side sets
 * the pace); the group's score is their mean. Address-based peers (Pagoda, malloc, jemalloc)
 * pass boxed {@code Long}s through the queue: 24 bytes of heap per block (with compressed class
 * pointers), which {@code -prof gc}, dividing by both threads' operations, shows as 12 B/op. Netty
 * passes its pooled {@code ByteBuf} objects instead; what its cross-thread recycling allocates
 * shows there too. The two threads need a core each: on a machine with two cores, anything else
 * that runs (a build, JMH's own threads) takes a core from the pair and the results swing
 * widely; look at the errors, and run it on a quiet machine.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class ProducerConsumerBenchmark {

    /** Blocks the queue holds at most. */
    public static final int QUEUE_CAPACITY = 1024;
    /** Bytes per block. */
    public static final int SIZE = 4096;
    /** Busy-wait rounds of a waiting thread before it starts yielding its processor. */
    static final int SPINS_BEFORE_YIELD = 128;

    /** The queue between a group's two threads; subclasses say how a block is freed. */
    public abstract static class Pipe<T> {
        private final SpscAtomicArrayQueue<T> queue = new SpscAtomicArrayQueue<>(QUEUE_CAPACITY);

        /** Frees one block: on the consumer, or on whichever thread drains the queue. */
        abstract void release(T block);

        /** Puts a block on the queue, waiting for room; frees it instead once the iteration is over. */
        final void put(T block, Control control) {
            for (int waits = 0; !queue.offer(block); waits++) {
                if (control.stopMeasurement) {
                    release(block);
                    return;
                }
                backOff(waits);
            }
        }

        /** Takes a block off the queue, waiting for one; null once the iteration is over. */
        final T take(Control control) {
            T block;
            for (int waits = 0; (block = queue.poll()) == null; waits++) {
                if (control.stopMeasurement) {
                    return null;
                }
                backOff(waits);
            }
            return block;
        }

        /**
         * Spins a while, then yields: only the faster side waits, and it has the queue's slack, so
         * the yields cost nothing when each thread has a core, and spare a spinning thread's whole
         * time slice when the two share one (another process running, fewer cores than threads).
         */
        private static void backOff(int waits) {
            if (waits < SPINS_BEFORE_YIELD) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }

        /** Frees what is left in the queue, so that no iteration starts with blocks in flight. */
        @TearDown(Level.Iteration)
        public void drain() {
            T block;
            while ((block = queue.poll()) != null) {
                release(block);
            }
        }
    }

    @State(Scope.Group)
    public static class PagodaPipe extends Pipe<Long> {
        PageAllocator pages;

        @Setup(Level.Trial)
        public void setUp() {
            pages = PageAllocator.builder().capacity(1L << 30).build();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            pages.close();
        }

        @Override
        void release(Long address) {
            pages.freePages(address, 0);
        }
    }

    @State(Scope.Group)
    public static class NettyPooledPipe extends Pipe<ByteBuf> {
        PooledByteBufAllocator allocator;

        @Setup(Level.Trial)
        public void setUp() {
            allocator = Netty.pooled();
        }

        @Override
        void release(ByteBuf buffer) {
            buffer.release();
        }
    }

    @State(Scope.Group)
    public static class NettyAdaptivePipe extends Pipe<ByteBuf> {
        AdaptiveByteBufAllocator allocator;

        @Setup(Level.Trial)
        public void setUp() {
            allocator = Netty.adaptive();
        }

        @Override
        void release(ByteBuf buffer) {
            buffer.release();
        }
    }

    @State(Scope.Group)
    public static class MallocPipe extends Pipe<Long> {
        @Override
        void release(Long address) {
            Libc.free(address);
        }
    }

    @State(Scope.Group)
    public static class JemallocPipe extends Pipe<Long> {
        @Setup(Level.Trial)
        public void load() {
            Jemalloc.requireLoaded();
        }

        @Override
        void release(Long address) {
            Jemalloc.free(address);
        }
    }

    @Benchmark
    @Group("pagoda")
    @GroupThreads(1)
    public void pagodaAllocate(PagodaPipe pipe, Control control) {
        pipe.put(pipe.pages.allocatePages(0), control);
    }

    @Benchmark
    @Group("pagoda")
    @GroupThreads(1)
    public void pagodaFree(PagodaPipe pipe, Control control) {
        Long address = pipe.take(control);
        if (address != null) {
            pipe.release(address);
        }
    }

    @Benchmark
    @Group("nettyPooled")
    @GroupThreads(1)
    public void nettyPooledAllocate(NettyPooledPipe pipe, Control control) {
        pipe.put(pipe.allocator.directBuffer(SIZE, SIZE), control);
    }

    @Benchmark
    @Group("nettyPooled")
    @GroupThreads(1)
    public void nettyPooledFree(NettyPooledPipe pipe, Control control) {
        ByteBuf buffer = pipe.take(control);
        if (buffer != null) {
            pipe.release(buffer);
        }
    }

    @Benchmark
    @Group("nettyAdaptive")
    @GroupThreads(1)
    public void nettyAdaptiveAllocate(NettyAdaptivePipe pipe, Control control) {
        pipe.put(pipe.allocator.directBuffer(SIZE, SIZE), control);
    }

    @Benchmark
    @Group("nettyAdaptive")
    @GroupThreads(1)
    public void nettyAdaptiveFree(NettyAdaptivePipe pipe, Control control) {
        ByteBuf buffer = pipe.take(control);
        if (buffer != null) {
            pipe.release(buffer);
        }
    }

    @Benchmark
    @Group("ffmMalloc")
    @GroupThreads(1)
    public void ffmMallocAllocate(MallocPipe pipe, Control control) {
        pipe.put(Libc.malloc(SIZE), control);
    }

    @Benchmark
    @Group("ffmMalloc")
    @GroupThreads(1)
    public void ffmMallocFree(MallocPipe pipe, Control control) {
        Long address = pipe.take(control);
        if (address != null) {
            pipe.release(address);
        }
    }

    @Benchmark
    @Group("jemalloc")
    @GroupThreads(1)
    public void jemallocAllocate(JemallocPipe pipe, Control control) {
        pipe.put(Jemalloc.malloc(SIZE), control);
    }

    @Benchmark
    @Group("jemalloc")
    @GroupThreads(1)
    public void jemallocFree(JemallocPipe pipe, Control control) {
        Long address = pipe.take(control);
        if (address != null) {
            pipe.release(address);
        }
    }
}
