package io.pagoda.pcp;

import io.pagoda.region.AsymmetricFence;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * The cache of one platform thread, its owner, who uses it with neither a lock nor a CAS; other
 * threads (drainers) can still take what it holds at any time, even while the owner is blocked
 * forever. Each layer's cache extends it and holds its own stacks ({@link CacheStacks}, the slab
 * layer's magazines); the protocol here is the same for all. One object per thread and layer, so
 * that the fast path reaches the protocol's flags and the stacks through one reference, with no
 * cast: a holder of stacks behind a type parameter cost the page pair half a nanosecond, and the
 * slab pair two. A {@link SharedCache} stripe's contents are of the same class, with no owner:
 * the stripe's lock guards them, and the protocol is never used.
 *
 * <h2>The drain protocol</h2>
 * Two fields, each with one writer side: {@code busy}, 1 while the owner is inside an
 * operation, and {@code drainRequested}, set by a drainer that wants the stacks.
 * <pre>
 * owner:   busy = 1 (opaque) ; light fence ; if drainRequested (acquire): leave, use the zone
 *          ... pop or push ...; busy = 0 (release)
 * drainer: drainRequested = 1 (volatile) ; heavy fence ; wait until busy is 0 (acquire)
 *          ... take every block ...      ; drainRequested = 0 (release)
 * </pre>
 * This is Dekker's mutual exclusion, with the store-load fence split asymmetrically
 * ({@link AsymmetricFence}): the owner's half costs nothing on Linux, the drainer's is a
 * membarrier. Either the owner's read sees the request (and it keeps off the stacks), or the
 * drainer's read sees the owner busy (and it waits for the release that ends the operation,
 * which also publishes the owner's writes to the stacks). A drainer never waits while inside an
 * operation of its own cache, so two drainers cannot wait for each other; drainers take turns
 * under {@link CacheRegistry}'s drain lock. A dead owner needs no protocol: {@link Thread#isAlive()}
 * returning false orders all its writes before the drainer's reads.
 *
 * <p>{@code busy} is written with constants, never read by its owner: an operation count would
 * chain every operation to the one before through a load of the last store, four times per
 * allocation and free. Whether the owner has been active is the counters' business
 * ({@link #operations()}).
 *
 * <h2>The counters</h2>
 * Every cache counts its misses, frees, refills and drains, written by whoever holds it, read
 * racily by statistics, exact at quiescent points. Hits are not counted, which spares the fast
 * path a load, an add and a store per allocation: every item pushed (by a refill or a free) was
 * since popped, which is a hit, or taken out to go below, or is still held, so the hits follow
 * ({@link #hits()}).
 */
public abstract class OwnedCache {

    private static final VarHandle BUSY;
    private static final VarHandle DRAIN_REQUESTED;
    private static final long BACKOFF_NANOS = 20_000;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            BUSY = lookup.findVarHandle(OwnedCache.class, "busy", int.class);
            DRAIN_REQUESTED = lookup.findVarHandle(OwnedCache.class, "drainRequested", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The thread that owns the cache; null for the contents of a {@link SharedCache} stripe. */
    public final Thread owner;

    /** Written by the owner only; 1 inside an operation. */
    @SuppressWarnings("unused") // through BUSY
    private int busy;
    /** Written by drainers only, under the drain lock; 1 while a drainer holds the stacks. */
    private int drainRequested;

    // The reaper's own view, touched only under the drain lock.
    long reaperOperations;
    long reaperIdleSince;

    private long misses;
    private long frees;
    private long refills;
    private long drains;
    /** Items pushed by refills, and items taken out to go below: with frees, they give {@link #hits()}. */
    private long refilled;
    private long takenOut;

    protected OwnedCache(Thread owner) {
        this.owner = owner;
        this.reaperIdleSince = System.nanoTime(); // published with the cache by the registry's list
    }

    /**
     * Owner: begins an operation on the stacks. Pair with {@link #exit()} in a finally block.
     *
     * @return false if a drainer holds the stacks; the operation is then already over, and the
     *         caller must not touch the stacks (it goes to the layer below instead)
     */
    public boolean enter() {
        BUSY.setOpaque(this, 1);
        // Store-load: busy must be visible before drainRequested is read (see the class comment).
        AsymmetricFence.light();
        if ((int) DRAIN_REQUESTED.getAcquire(this) != 0) {
            BUSY.setRelease(this, 0);
            return false;
        }
        return true;
    }

    /** Owner: ends an operation; the release publishes its writes to the stacks to a later drainer. */
    public void exit() {
        BUSY.setRelease(this, 0);
    }

    /** An allocation found the stacks empty. */
    public final void countMiss() {
        misses++;
    }

    /** A free was pushed on the stacks. */
    public final void countFree() {
        frees++;
    }

    /** A batch came from below. */
    public final void countRefill() {
        refills++;
    }

    /** A batch, or everything, went below. */
    public final void countDrain() {
        drains++;
    }

    /** The stacks' own bookkeeping: an item of a refill was pushed. */
    protected final void countRefilled() {
        refilled++;
    }

    /** The stacks' own bookkeeping: {@code n} items were taken out to go below. */
    protected final void countTakenOut(int n) {
        takenOut += n;
    }

    /** Items (blocks, objects) the stacks hold now. */
    protected abstract long itemsHeld();

    /** Allocations served from the stacks, derived (see the class comment). */
    public final long hits() {
        return Math.max(0, refilled + frees - takenOut - itemsHeld()); // a racy read may see a push before its count
    }

    /** A count that changes with every operation: a hint for the reaper that the owner was active. */
    final long operations() {
        return hits() + misses + frees;
    }

    /** The counters, under a name, with what the stacks hold in their layer's unit. */
    public final CacheSnapshot snapshot(String name, long held) {
        return new CacheSnapshot(name, hits(), misses, frees, refills, drains, held);
    }

    /** Drainer, under the drain lock: asks for the stacks. Follow with a heavy fence, then {@link #awaitQuiescent}. */
    void requestDrain() {
        DRAIN_REQUESTED.setVolatile(this, 1);
    }

    /**
     * Drainer: waits until the owner is outside any operation. After the heavy fence, every later
     * operation of the owner sees the request and keeps off the stacks, so the drainer holds them
     * until {@link #releaseDrain}.
     *
     * <p>Operations are short and never block but on a zone lock, so the wait is normally brief.
     * It is bounded all the same: an owner whose operation an Error cut short (a stack overflow
     * between its two writes of busy) looks busy until its next operation, which may never come.
     * Such a cache is left alone for this drain.
     *
     * @return true if the owner is outside any operation: the drainer holds the stacks; false if
     *         it stayed inside one for {@code patienceNanos}: the drainer must not touch them
     */
    boolean awaitQuiescent(long patienceNanos) {
        long deadline = 0;
        for (int spins = 0; (int) BUSY.getAcquire(this) != 0; spins++) {
            if (spins < 1_000) {
                Thread.onSpinWait();
                continue;
            }
            long now = System.nanoTime();
            if (deadline == 0) {
                deadline = now + patienceNanos;
            } else if (now - deadline > 0) {
                return false;
            }
            // The owner was preempted inside an operation, or waits for a zone lock: a timed park
            // frees the processor (or a virtual drainer's carrier) for it, where a yield may not.
            LockSupport.parkNanos(BACKOFF_NANOS);
        }
        return true;
    }

    /** Drainer: hands the (now emptied) stacks back; the release publishes the drainer's writes. */
    void releaseDrain() {
        DRAIN_REQUESTED.setRelease(this, 0);
    }
}
