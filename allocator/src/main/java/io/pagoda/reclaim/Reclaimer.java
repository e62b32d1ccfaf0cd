package io.pagoda.reclaim;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.buddy.Node;
import io.pagoda.buddy.Zone;
import io.pagoda.pcp.CacheReaper;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The background reclaimer, the kernel's kswapd: a daemon thread that sleeps until a zone falls
 * below its low watermark ({@link #wake}, which zones call), then asks the shrinkers for memory
 * until every zone is above its high watermark again, or the shrinkers have nothing left to give
 * (the kernel's {@code balance_pgdat}). Running ahead of the allocating threads, it keeps them
 * off the slow path where they would have to reclaim for themselves.
 *
 * <p>After a run that freed nothing it waits a while before it honours the next wake, so that a
 * zone that stays low with nothing to reclaim does not keep it spinning (the kernel's
 * {@code kswapd_failures}).
 */
public final class Reclaimer implements AutoCloseable {

    private static final long BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** Rounds of asking per run: a run gives up after these, as kswapd's priority loop does. */
    private static final int ROUNDS = 12;

    private static final System.Logger LOG = System.getLogger("io.pagoda");

    private final BuddySystem buddy;
    private final Shrinkers shrinkers;
    private final Runnable drainCaches;
    private final int pageShift;
    private final Thread thread;
    private volatile boolean pending;
    private volatile boolean stopped;
    // Written by the reclaimer thread only.
    private volatile long runs;
    private volatile long reclaimedBytes;

    /**
     * @param drainCaches gives back to the zones what the per-thread caches hold, the reclaimer's
     *                    own included, where what the shrinkers free on its thread goes
     */
    public Reclaimer(String name, BuddySystem buddy, Shrinkers shrinkers, int pageShift, Runnable drainCaches) {
        this.drainCaches = drainCaches;
        this.buddy = buddy;
        this.shrinkers = shrinkers;
        this.pageShift = pageShift;
        this.thread = Thread.ofPlatform().name(name).daemon().unstarted(this::loop);
        thread.start();
    }

    /** Wakes the reclaimer, if it sleeps; cheap when it is awake already. */
    public void wake() {
        if (!pending) {
            pending = true;
            LockSupport.unpark(thread);
        }
    }

    private void loop() {
        shrinkers.enterReclaimForever();
        while (!stopped) {
            while (!pending && !stopped) {
                LockSupport.park(this);
            }
            pending = false;
            if (!stopped && !balanceSurvivingFailures()) {
                backOff();
            }
        }
    }

    /**
     * Waits out the whole backoff: a wake meanwhile (each refused allocation sends one) cuts the
     * park short, but stays pending, and is honoured only once the backoff is over. Cut short, the
     * backoff let the reclaimer run once per refusal, some ten thousand runs a second for nothing,
     * and cost each refusal a thread unpark.
     */
    private void backOff() {
        long deadline = System.nanoTime() + BACKOFF_NANOS;
        for (long left = BACKOFF_NANOS; left > 0 && !stopped; left = deadline - System.nanoTime()) {
            LockSupport.parkNanos(this, left);
        }
    }

    /** A run; whatever a shrinker throws (an Error too) is logged, and reclaim goes on at the next wake. */
    private boolean balanceSurvivingFailures() {
        try {
            return balance();
        } catch (Throwable failure) {
            LOG.log(System.Logger.Level.WARNING, "a reclaim run failed; the reclaimer goes on", failure);
            return false;
        }
    }

    /** One run, recorded as a {@link ReclaimerRunEvent}; false if it freed nothing while a zone was under its high watermark. */
    private boolean balance() {
        runs++;
        ReclaimerRunEvent event = new ReclaimerRunEvent();
        event.begin();
        long shortfall = framesBelowHigh();
        long reclaimedBefore = reclaimedBytes;
        boolean freedAny = shrinkUntilHigh(shortfall);
        if (event.shouldCommit()) {
            event.shortfallBytes = shortfall << pageShift;
            event.reclaimedBytes = reclaimedBytes - reclaimedBefore;
            event.balanced = framesBelowHigh() == 0;
            event.commit();
        }
        return freedAny;
    }

    /** Asks the shrinkers for what the zones miss, round after round; false if they freed nothing. */
    private boolean shrinkUntilHigh(long missing) {
        boolean freedAny = false;
        for (int round = 0; round < ROUNDS && !stopped; round++) {
            if (missing == 0) {
                return true;
            }
            long freed = shrinkers.shrink(missing << pageShift);
            if (freed == 0) {
                return freedAny;
            }
            freedAny = true;
            reclaimedBytes += freed;
            drainCaches.run();
            missing = framesBelowHigh();
        }
        return freedAny;
    }

    private long framesBelowHigh() {
        long missing = 0;
        for (Node node : buddy.nodes()) {
            for (Zone zone : node.zones()) {
                missing += Math.max(0, zone.watermarks().high() - zone.usableFreeFrames());
            }
        }
        return missing;
    }

    /** Runs since the allocator was made: times it was woken and found work. */
    public long runs() {
        return runs;
    }

    /** Bytes the shrinkers reported freed on the reclaimer's asking. */
    public long reclaimedBytes() {
        return reclaimedBytes;
    }

    /** Stops the thread and waits for it. */
    @Override
    public void close() {
        stopped = true;
        LockSupport.unpark(thread);
        CacheReaper.joinUninterruptibly(thread);
    }
}
