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

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;

/**
 * A database's arena: {@code allocations} small allocations (16 to 128 bytes), then one close
 * that drops them all, as a table or a query's scratch space is dropped. Pagoda's confined and
 * shared arenas against the JDK's {@code Arena.ofConfined()} and {@code Arena.ofShared()}, which
 * make one native allocation (and zero it) per segment and free each at close.
 *
 * <p>Two measurements per arena: {@code fill*} is the whole life (allocations and close),
 * {@code close*} the close alone (the arena filled in a per-invocation setup).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5)
@Measurement(iterations = 10)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class ArenaBenchmark {

    @Param({"1000000"})
    int allocations;

    @Param({"pagodaConfined", "pagodaShared", "jdkConfined", "jdkShared"})
    String arena;

    private PageAllocator pages;

    @Setup(Level.Trial)
    public void setUp() {
        pages = PageAllocator.builder().capacity(4L << 30).build();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pages.close();
    }

    private Arena open() {
        return switch (arena) {
            case "pagodaConfined" -> pages.newConfinedArena();
            case "pagodaShared" -> pages.newSharedArena();
            case "jdkConfined" -> Arena.ofConfined();
            case "jdkShared" -> Arena.ofShared();
            default -> throw new IllegalArgumentException(arena);
        };
    }

    private static long fill(Arena target, int count) {
        long sum = 0;
        for (int i = 0; i < count; i++) {
            sum += target.allocate(16 + (i & 7) * 16, 8).address();
        }
        return sum;
    }

    @Benchmark
    public long fillAndClose() {
        Arena target = open();
        long sum = fill(target, allocations);
        target.close();
        return sum;
    }

    /** An arena filled before each invocation of {@link #closeOnly}, so that only its close is timed. */
    @State(Scope.Thread)
    public static class Filled {
        Arena arena;

        @Setup(Level.Invocation)
        public void fill(ArenaBenchmark benchmark) {
            arena = benchmark.open();
            ArenaBenchmark.fill(arena, benchmark.allocations);
        }
    }

    @Benchmark
    public void closeOnly(Filled filled) {
        filled.arena.close();
    }
}
