package io.pagoda;

import java.util.Deque;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * A shrinker for the tests of reclaim: a cache of single frames that it frees when asked, up to
 * the bytes asked; optionally deaf to the background reclaimer, so that only an allocating
 * thread's direct reclaim gets frames back.
 */
final class FrameCache implements Shrinker {

    private static final String RECLAIMER = "pagoda-reclaimer";

    /** The frames it holds; a test adds the frames it wants the shrinker to be able to free. */
    final Deque<Long> frames = new ConcurrentLinkedDeque<>();
    private final PageAllocator pages;
    private final boolean refuseReclaimer;

    FrameCache(PageAllocator pages, boolean refuseReclaimer) {
        this.pages = pages;
        this.refuseReclaimer = refuseReclaimer;
    }

    @Override
    public long freeableBytes() {
        return frames.size() * pages.blockSize(0);
    }

    @Override
    public long shrink(long bytes) {
        if (refuseReclaimer && Thread.currentThread().getName().equals(RECLAIMER)) {
            return 0;
        }
        long freed = 0;
        for (Long frame; freed < bytes && (frame = frames.pollLast()) != null; freed += pages.blockSize(0)) {
            pages.freePages(frame, 0);
        }
        return freed;
    }
}
