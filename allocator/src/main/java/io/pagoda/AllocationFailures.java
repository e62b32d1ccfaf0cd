package io.pagoda;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.buddy.Lifetimes;
import io.pagoda.stats.BuddyInfo;

import java.util.concurrent.atomic.LongAdder;

/**
 * The allocations that failed: counted (for the MXBean), and each recorded as an
 * {@link AllocationFailureEvent} when a JFR recording asks for it. Called on the failure path
 * only, after the slow path gave up; the fast paths never come here.
 */
final class AllocationFailures {

    private final LongAdder count = new LongAdder();

    /**
     * Records a failure to allocate a block of {@code order}.
     *
     * @param buddy     the buddy core that refused, for the free figures of the event
     * @param pageShift log2 of the page size
     */
    void record(int order, int lifetime, boolean critical, BuddySystem buddy, int pageShift) {
        count.increment();
        AllocationFailureEvent event = new AllocationFailureEvent();
        if (event.shouldCommit()) {
            event.order = order;
            event.blockSize = 1L << (pageShift + order);
            event.lifetime = Lifetimes.name(lifetime);
            event.critical = critical;
            event.freeBytes = buddy.freeFrames() << pageShift;
            event.buddyinfo = BuddyInfo.format(buddy);
            event.commit();
        }
    }

    /** Failures since the allocator was made. */
    long count() {
        return count.sum();
    }
}
