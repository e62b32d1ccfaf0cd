package io.pagoda;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * JFR event {@code io.pagoda.AllocationFailure}: an allocation that found no block even after the
 * slow path (every cache drained, the shrinkers asked), the moment an {@link OutOfPagesException}
 * is thrown or {@link PageAllocator#tryAllocatePages} answers 0. Its stack trace shows who asked.
 *
 * <p>Committed by {@link AllocationFailures}, which fills the fields only when the event is
 * recorded: the buddyinfo snapshot is text, built for a recording and never otherwise.
 */
@Name("io.pagoda.AllocationFailure")
@Label("Allocation Failure")
@Category({"Pagoda", "Allocation"})
@Description("An allocation found no free block after draining every cache and asking the shrinkers")
final class AllocationFailureEvent extends Event {

    @Label("Order")
    @Description("The order of the block asked for: 2^order pages")
    int order;

    @Label("Block Size")
    @Description("The bytes of the block asked for (for a small object, of the slab it needed)")
    @DataAmount
    long blockSize;

    @Label("Lifetime")
    @Description("The lifetime type asked for: ShortLived, LongLived (slabs among them) or Reclaimable")
    String lifetime;

    @Label("Critical")
    @Description("Whether the allocation could use the memory below the min watermark")
    boolean critical;

    @Label("Free")
    @Description("Bytes free in every node's zones at the failure: in blocks too small, kept back below the min watermark, or on nodes the thread's memory policy excludes")
    @DataAmount
    long freeBytes;

    @Label("Buddyinfo")
    @Description("The free blocks of each order at the failure, as /proc/buddyinfo prints them")
    String buddyinfo;
}
