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
 * The owner pushes a block on its cache (a free) while a drainer takes the cache under
 * {@link OwnedCache}'s protocol. The block already cached and the block being freed must each end
 * in exactly one place: taken by the drainer, still in the cache, or (when the owner saw the drain
 * request) given to the zone directly by the owner.
 *
 * <p>Results: r1 = 1 if the owner pushed, 0 if it kept off; r2 = blocks the drainer took; r3 = 1
 * if the blocks are conserved.
 */
@JCStressTest
@Description("An owner's push racing a drain of its cache")
@Outcome(id = "1, 2, 1", expect = ACCEPTABLE, desc = "the owner pushed first; the drainer took both")
@Outcome(id = "1, 1, 1", expect = ACCEPTABLE, desc = "the drain finished first; the pushed block stays cached")
@Outcome(id = "0, 1, 1", expect = ACCEPTABLE, desc = "the owner saw the drain request and freed to the zone")
@Outcome(expect = FORBIDDEN, desc = "a block was lost or seen twice")
@State
public class PushVersusDrain {

    private static final int CACHED = 10;
    private static final int FREED = 11;

    private final CacheStacks cache = new CacheStacks(new int[] {4}, 4, Thread.currentThread());
    private final int[] drained = new int[4];
    private int drainedCount;
    private int pushed;

    public PushVersusDrain() {
        cache.pushRefilled(0, CACHED);
    }

    @Actor
    public void owner() {
        if (!cache.enter()) {
            return; // ThreadCaches gives the block to the zone instead
        }
        try {
            cache.pushAboveHigh(0, FREED); // a free's push; the stacks stay below high here
            pushed = 1;
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
        int[] found = new int[8];
        int count = 0;
        for (int i = 0; i < drainedCount; i++) {
            found[count++] = drained[i];
        }
        for (int left = cache.count(0); left > 0; left--) {
            found[count++] = cache.pop(0);
        }
        if (pushed == 0) {
            found[count++] = FREED; // went to the zone, outside the cache
        }
        result.r1 = pushed;
        result.r2 = drainedCount;
        result.r3 = Drainer.conserved(new int[] {CACHED, FREED}, found, count);
    }
}
