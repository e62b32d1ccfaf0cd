package io.pagoda;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * JFR event {@code io.pagoda.Purge}: a purge pass that handed memory back to the operating system
 * ({@code madvise(MADV_DONTNEED)} on free blocks of pageblock size that stayed free past the
 * decay; the kernel's free page reporting). Passes that hand nothing back are not recorded: they
 * run every reaper period and say nothing. Committed by {@link PurgePass}, on the reaper's thread,
 * so without a stack trace.
 */
@Name("io.pagoda.Purge")
@Label("Purge")
@Category({"Pagoda", "Reclaim"})
@Description("Free memory handed back to the operating system after the purge decay (madvise MADV_DONTNEED)")
@StackTrace(false)
final class PurgeEvent extends Event {

    @Label("Pages")
    @Description("Pages handed back in this pass")
    long pages;

    @Label("Purged")
    @Description("Bytes handed back in this pass")
    @DataAmount
    long purgedBytes;
}
