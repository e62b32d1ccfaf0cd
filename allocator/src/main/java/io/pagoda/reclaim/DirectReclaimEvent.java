package io.pagoda.reclaim;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * JFR event {@code io.pagoda.DirectReclaim}: an allocating thread that asked the shrinkers for
 * memory itself, because a zone was at its min watermark (the kernel's {@code allocstall}, and its
 * {@code mm_vmscan_direct_reclaim} tracepoints). Its duration is the time the thread spent in the
 * shrinkers; its stack trace shows the allocation that was made to wait. Committed by
 * {@link Shrinkers}, which every request to shrink goes through and which knows who asks.
 */
@Name("io.pagoda.DirectReclaim")
@Label("Direct Reclaim")
@Category({"Pagoda", "Reclaim"})
@Description("An allocating thread asked the shrinkers for memory itself, a zone being at its min watermark")
final class DirectReclaimEvent extends Event {

    @Label("Requested")
    @Description("Bytes asked of the shrinkers: the block being allocated, and at least 32 pages")
    @DataAmount
    long requestedBytes;

    @Label("Reclaimed")
    @Description("Bytes the shrinkers reported freed")
    @DataAmount
    long reclaimedBytes;
}
