package io.pagoda.pcp;

import io.pagoda.region.AsymmetricFence;

import java.util.Arrays;

/** The drainer's side of the races, exactly as {@link CacheRegistry} drains a cache, and the check. */
final class Drainer {

    private Drainer() {
    }

    /** Takes every order-0 block of the cache under the protocol into {@code into}; returns how many. */
    static int drain(CacheStacks cache, int[] into) {
        cache.requestDrain();
        AsymmetricFence.heavy();
        if (!cache.awaitQuiescent(10_000_000_000L)) {
            throw new IllegalStateException("the owner stayed inside an operation for 10 s");
        }
        int count = cache.count(0);
        cache.takeOldest(0, count, into);
        cache.releaseDrain();
        return count;
    }

    /** 1 if {@code found} is a permutation of {@code expected} (none lost, none twice), else 0. */
    static int conserved(int[] expected, int[] found, int foundCount) {
        int[] sortedFound = Arrays.copyOf(found, foundCount);
        int[] sortedExpected = expected.clone();
        Arrays.sort(sortedFound);
        Arrays.sort(sortedExpected);
        return Arrays.equals(sortedFound, sortedExpected) ? 1 : 0;
    }
}
