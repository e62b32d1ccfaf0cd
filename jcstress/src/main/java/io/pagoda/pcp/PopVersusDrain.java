package io.pagoda.pcp;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * The owner pops a block from its cache (an allocation) while a drainer takes the cache under
 * {@link OwnedCache}'s protocol, exactly as {@link ThreadCaches} does both. Each of the two cached
 * blocks must end with exactly one of them: none lost, none handed out twice.
 *
 * <p>Results: r1 = the owner's block (11, the top of the stack), -1 if it found the cache empty
 * (the drain came first), -2 if it saw the drain request and kept off; r2 = blocks the drainer
 * took; r3 = 1 if the blocks are conserved.
 */
@JCStressTest
@Description("An owner's pop racing a drain of its cache")
@Outcome(id = "11, 1, 1", expect = ACCEPTABLE, desc = "the owner popped first; the drainer took the rest")
@Outcome(id = "-2, 2, 1", expect = ACCEPTABLE, desc = "the owner saw the drain request and kept off the cache")
@Outcome(id = "-1, 2, 1", expect = ACCEPTABLE, desc = "the drain finished first; the owner found the cache empty")
@Outcome(expect = FORBIDDEN, desc = "a block was lost or taken twice")
@State
public class PopVersusDrain {

    private static final int[] BLOCKS = {10, 11};

    private final CacheStacks cache = new CacheStacks(new int[] {4}, 4, Thread.currentThread());
    private final int[] drained = new int[4];
    private int drainedCount;
    private int owned;

    public PopVersusDrain() {
        for (int block : BLOCKS) {
            cache.pushRefilled(0, block);
        }
    }

    @Actor
    public void owner() {
        if (!cache.enter()) {
            owned = -2;
            return;
        }
        try {
            owned = cache.pop(0);
        } finally {
            cache.exit();
        }
    }

    @Actor
    public void drainer() {
        drainedCount = Drainer.drain(cache, drained);
    }

    @Arbiter
    public void arbiter(III_Result result) {
        int[] found = java.util.Arrays.copyOf(drained, drainedCount + 1);
        int count = drainedCount;
        if (owned >= 0) {
            found[count++] = owned;
        }
        result.r1 = owned;
        result.r2 = drainedCount;
        result.r3 = Drainer.conserved(BLOCKS, found, count);
    }
}
