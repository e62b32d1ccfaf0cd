package io.pagoda.pcp;

import java.util.Arrays;

/** Checks that the blocks seen by the owner and the drainer are exactly the blocks that existed. */
final class DrainProtocolOutcome {

    private DrainProtocolOutcome() {
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
