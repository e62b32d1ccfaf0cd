package io.pagoda.pcp;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The owner's side of the drain protocol, one thread at a time. (jcstress races the two sides.) */
class OwnedCacheTest {

    private static CacheStacks cache() {
        return new CacheStacks(new int[] {4}, 4, Thread.currentThread());
    }

    @Test
    void shouldBeQuiescentBetweenOperations() {
        CacheStacks cache = cache();
        assertTrue(cache.enter());
        cache.exit();
        assertTrue(cache.awaitQuiescent(0));
    }

    @Test
    void shouldKeepOffTheStacksWhileADrainIsRequested() {
        CacheStacks cache = cache();
        cache.requestDrain();
        assertFalse(cache.enter(), "the owner must go to the zone instead");
        assertTrue(cache.awaitQuiescent(0), "and is outside any operation again");
        cache.releaseDrain();
        assertTrue(cache.enter());
        cache.exit();
    }

    @Test
    void shouldGiveUpOnAnOperationThatNeverEndsAndRecoverAtTheOwnersNextOne() {
        CacheStacks cache = cache();
        assertTrue(cache.enter()); // an Error (a stack overflow) cuts the operation short: no exit()
        long start = System.nanoTime();
        assertFalse(cache.awaitQuiescent(20_000_000L), "a drainer must not wait forever");
        assertTrue(System.nanoTime() - start >= 20_000_000L);
        assertTrue(cache.enter(), "the owner's next operation");
        assertFalse(cache.awaitQuiescent(0), "is inside an operation");
        cache.exit();
        assertTrue(cache.awaitQuiescent(0), "and leaves the cache quiescent again");
    }
}
