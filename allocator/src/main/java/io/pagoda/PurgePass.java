package io.pagoda;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.region.Region;

import java.util.function.LongConsumer;

/**
 * One purge pass over the buddy core ({@link BuddySystem#purge}), as the cache reaper runs it each
 * period, recorded as a {@link PurgeEvent} when it handed memory back. The pass returns what it
 * handed back, so the event is emitted here, above it, and the buddy core knows nothing of JFR.
 */
final class PurgePass implements LongConsumer {

    private final BuddySystem buddy;
    private final int decayEpochs;
    private final int limitPerZone;
    private final Region region;

    PurgePass(BuddySystem buddy, int decayEpochs, int limitPerZone, Region region) {
        this.buddy = buddy;
        this.decayEpochs = decayEpochs;
        this.limitPerZone = limitPerZone;
        this.region = region;
    }

    @Override
    public void accept(long now) {
        PurgeEvent event = new PurgeEvent();
        event.begin();
        long frames = buddy.purge(decayEpochs, limitPerZone, region);
        if (frames > 0 && event.shouldCommit()) {
            event.pages = frames;
            event.purgedBytes = frames << region.pageShift();
            event.commit();
        }
    }
}
