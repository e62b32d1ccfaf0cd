package io.pagoda.buddy;

import io.pagoda.region.PageDescriptors;

import static io.pagoda.region.PageDescriptors.ALLOCATED;
import static io.pagoda.region.PageDescriptors.RUN_FLAG;

/**
 * Runs of any whole number of frames, not only powers of two: the kernel's
 * {@code alloc_pages_exact}, so that a 20 KiB buffer takes 5 frames, not a block of 8.
 *
 * <h2>Cutting a run</h2>
 * A run of n frames is cut from an allocated block of the next order up, aligned to it. The block
 * is split into the buddy blocks that n's binary digits name, largest first, and the blocks past
 * the run's end are freed at once, straight to their zone (never through a per-thread cache, so
 * that they merge back there with the run's blocks when it is freed):
 * <pre>
 * 5 frames from a block of 8:  | 4 (kept, head) | 1 (kept) | 1 (freed) | 2 (freed) |
 *                                 ^ run flag, length 5
 * </pre>
 * Each block, kept or freed, is a buddy block of its own (head, order, aligned), so the zone and
 * its invariants see nothing new. Every kept block carries the run flag, which the page-level
 * free refuses: no one frees a piece of a run by mistake. The head also keeps the run's length
 * (the descriptor's freelist field), so that a free from the address alone finds every block.
 *
 * <h2>Freeing a run</h2>
 * All blocks are checked first, then each loses the flag and is freed; so a bad free changes
 * nothing. What the run costs the caller is its length in frames, nothing rounded up.
 */
public final class ExactRuns {

    /** What {@link #lengthAt} says of a frame inside a run, not at its head. */
    public static final int INSIDE_A_RUN = -1;

    private final PageDescriptors descriptors;
    private final BuddySystem buddy;

    public ExactRuns(PageDescriptors descriptors, BuddySystem buddy) {
        this.descriptors = descriptors;
        this.buddy = buddy;
    }

    /**
     * Cuts a run of {@code length} frames, fewer than {@code 2^order}, from the allocated block at
     * {@code head}, freeing the rest of the block.
     */
    public void cut(int head, int order, int length, int lifetime) {
        assert length > 0 && length < 1 << order : length + " frames from a block of order " + order;
        // The kept blocks: one per set bit of the length, largest first.
        int at = head;
        for (int o = order - 1; o >= 0; o--) {
            if ((length & (1 << o)) != 0) {
                descriptors.setInfo(at, PageDescriptors.info(ALLOCATED, o, lifetime) | RUN_FLAG);
                at += 1 << o;
            }
        }
        descriptors.setRunFrames(head, length);
        // The rest, from the run's end to the block's: each piece as large as its alignment
        // allows (the lowest set bit of its distance from the head), so each is a buddy block.
        int end = head + (1 << order);
        while (at < end) {
            int o = Integer.numberOfTrailingZeros(at - head);
            descriptors.setInfo(at, PageDescriptors.info(ALLOCATED, o, lifetime));
            int result = buddy.free(at, o);
            if (result != Zone.FREED) {
                throw new IllegalStateException("the tail of a run at frame " + at + " (order " + o + ") could not be freed: info 0x"
                        + Integer.toHexString(result));
            }
            at += 1 << o;
        }
    }

    /**
     * The length in frames of the run whose head is at {@code pfn}; {@link #INSIDE_A_RUN} for the
     * head of another block of a run; 0 if the frame is no run's.
     */
    public int lengthAt(int pfn) {
        int info = descriptors.info(pfn);
        if ((info & RUN_FLAG) == 0 || PageDescriptors.state(info) != ALLOCATED) {
            return 0;
        }
        int length = descriptors.runFrames(pfn); // only the run's head keeps the length
        return length > 0 ? length : INSIDE_A_RUN;
    }

    /**
     * Frees the run of {@code length} frames at {@code head} ({@link #lengthAt} said so): every
     * block is checked before any is freed.
     *
     * @throws IllegalStateException if a block of the run is not as the run left it
     */
    public void free(int head, int length) {
        int lifetime = PageDescriptors.lifetime(descriptors.info(head));
        int at = head;
        for (int o = 31 - Integer.numberOfLeadingZeros(length); o >= 0; o--) {
            if ((length & (1 << o)) != 0) {
                int info = descriptors.info(at);
                if (info != (PageDescriptors.info(ALLOCATED, o, lifetime) | RUN_FLAG)) {
                    throw new IllegalStateException("the run of " + length + " frames at frame " + head + " has a damaged block at frame "
                            + at + ": info 0x" + Integer.toHexString(info));
                }
                at += 1 << o;
            }
        }
        descriptors.setRunFrames(head, 0); // fields past info are zero in free blocks
        at = head;
        for (int o = 31 - Integer.numberOfLeadingZeros(length); o >= 0; o--) {
            if ((length & (1 << o)) != 0) {
                descriptors.setInfo(at, PageDescriptors.info(ALLOCATED, o, lifetime));
                buddy.free(at, o); // checked above: an allocated head of this order
                at += 1 << o;
            }
        }
    }
}
