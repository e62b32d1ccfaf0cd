package io.pagoda.reclaim;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * JFR event {@code io.pagoda.ReclaimerRun}: one run of the background reclaimer (the kernel's
 * kswapd {@code balance_pgdat}, counted in zoneinfo's {@code pageoutrun}), from its wake-up below
 * the low watermark until the zones were above high again or the shrinkers had nothing left.
 * Committed by the {@link Reclaimer}, which alone knows these figures; on its own thread, so
 * without a stack trace.
 */
@Name("io.pagoda.ReclaimerRun")
@Label("Reclaimer Run")
@Category({"Pagoda", "Reclaim"})
@Description("The background reclaimer asked the shrinkers for memory until the zones were above their high watermark")
@StackTrace(false)
final class ReclaimerRunEvent extends Event {

    @Label("Shortfall")
    @Description("Bytes the zones lacked to reach their high watermark when the run began")
    @DataAmount
    long shortfallBytes;

    @Label("Reclaimed")
    @Description("Bytes the shrinkers reported freed during the run")
    @DataAmount
    long reclaimedBytes;

    @Label("Balanced")
    @Description("Whether every zone was above its high watermark when the run ended")
    boolean balanced;
}
