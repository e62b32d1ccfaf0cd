package io.pagoda;

import io.pagoda.buddy.Watermarks;
import io.pagoda.stats.ZoneInfo;
import io.pagoda.stats.ZoneTotals;

import javax.management.InstanceAlreadyExistsException;
import javax.management.InstanceNotFoundException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;

/**
 * The {@link PageAllocatorMXBean} of one allocator, and its registration on the platform
 * MBeanServer: made by {@link PageAllocator.Builder#build()} when a {@code jmxName} was given,
 * unregistered by {@link PageAllocator#close()}. Every attribute is read from the allocator when
 * asked; the bean keeps no figures of its own.
 */
final class PageAllocatorBean implements PageAllocatorMXBean {

    /** The ObjectName of an allocator's bean, up to its name. */
    private static final String NAME_PREFIX = "io.pagoda:type=PageAllocator,name=";

    private final PageAllocator pages;
    private final ObjectName name;

    private PageAllocatorBean(PageAllocator pages, ObjectName name) {
        this.pages = pages;
        this.name = name;
    }

    /**
     * The ObjectName for an allocator named {@code name}: {@code io.pagoda:type=PageAllocator,name=<name>}.
     *
     * @throws IllegalArgumentException if name cannot be an ObjectName's value as it is (empty, or
     *         with one of {@code , = : " * ?} or a newline; {@link ObjectName#quote} makes any
     *         string one)
     */
    static ObjectName objectName(String name) {
        try {
            ObjectName objectName = new ObjectName(NAME_PREFIX + name);
            if (!name.isEmpty() && !objectName.isPattern() && name.equals(objectName.getKeyProperty("name"))
                    && objectName.getKeyPropertyList().size() == 2) {
                return objectName;
            }
        } catch (MalformedObjectNameException malformed) {
            // refused below, with the rule
        }
        throw new IllegalArgumentException("jmxName \"" + name + "\" cannot be the value of the key 'name' in \""
                + NAME_PREFIX + "<name>\": it must be non-empty, without , = : \" * ? or a newline, or be quoted "
                + "with ObjectName.quote");
    }

    /**
     * Registers the bean of {@code pages} as {@code name} on the platform MBeanServer.
     *
     * @throws IllegalStateException if an MBean of that name is registered already (nothing is
     *         registered then)
     */
    static PageAllocatorBean register(PageAllocator pages, ObjectName name) {
        PageAllocatorBean bean = new PageAllocatorBean(pages, name);
        try {
            server().registerMBean(bean, name);
        } catch (InstanceAlreadyExistsException taken) {
            throw new IllegalStateException("an MBean named " + name + " is registered already: another allocator "
                    + "with this jmxName is open (close it first, or choose another name)", taken);
        } catch (JMException notCompliant) {
            // The bean is a compliant MXBean without MBeanRegistration callbacks: this cannot happen.
            throw new AssertionError("could not register " + name, notCompliant);
        }
        return bean;
    }

    /** Unregisters the bean; nothing happens if someone else unregistered it already. */
    void unregister() {
        try {
            server().unregisterMBean(name);
        } catch (InstanceNotFoundException gone) {
            // unregistered through the MBeanServer meanwhile: nothing left to do
        } catch (JMException impossible) {
            throw new AssertionError("could not unregister " + name, impossible);
        }
    }

    private static MBeanServer server() {
        return ManagementFactory.getPlatformMBeanServer();
    }

    @Override
    public long getCapacity() {
        return pages.capacity();
    }

    @Override
    public int getPageSize() {
        return pages.pageSize();
    }

    @Override
    public int getMaxOrder() {
        return pages.maxOrder();
    }

    @Override
    public long getFreeBytes() {
        return pages.freeBytes();
    }

    @Override
    public long getAllocatedBytes() {
        return pages.allocatedBytes();
    }

    @Override
    public long getCachedBytes() {
        return pages.cachedBytes();
    }

    @Override
    public long[] getFreeBlocksPerOrder() {
        return ZoneTotals.freeBlocksPerOrder(pages.buddySystem());
    }

    @Override
    public long getMinWatermarkBytes() {
        return inBytes(watermarks().min());
    }

    @Override
    public long getLowWatermarkBytes() {
        return inBytes(watermarks().low());
    }

    @Override
    public long getHighWatermarkBytes() {
        return inBytes(watermarks().high());
    }

    private Watermarks watermarks() {
        return ZoneTotals.watermarks(pages.buddySystem());
    }

    @Override
    public long getCacheHits() {
        return pages.cacheStatistics().hits();
    }

    @Override
    public long getCacheMisses() {
        return pages.cacheStatistics().misses();
    }

    @Override
    public long getCacheRefills() {
        return pages.cacheStatistics().refills();
    }

    @Override
    public long getCacheFrees() {
        return pages.cacheStatistics().frees();
    }

    @Override
    public long getZoneAllocations() {
        return ZoneTotals.counters(pages.buddySystem()).allocations();
    }

    @Override
    public long getZoneFrees() {
        return ZoneTotals.counters(pages.buddySystem()).frees();
    }

    @Override
    public long[] getFreeBytesPerNode() {
        long[] free = ZoneTotals.freeFramesPerNode(pages.buddySystem());
        for (int node = 0; node < free.length; node++) {
            free[node] = inBytes(free[node]);
        }
        return free;
    }

    @Override
    public long getCacheDrains() {
        return pages.cacheStatistics().drains();
    }

    @Override
    public long getAllocationFailures() {
        return pages.allocationFailures();
    }

    @Override
    public long getDirectReclaims() {
        return reclaim().directReclaims();
    }

    @Override
    public long getDirectReclaimedBytes() {
        return inBytes(reclaim().directReclaimed());
    }

    @Override
    public long getReclaimerRuns() {
        return reclaim().kswapdRuns();
    }

    @Override
    public long getReclaimerReclaimedBytes() {
        return inBytes(reclaim().kswapdReclaimed());
    }

    @Override
    public long getShrinkerFailures() {
        return reclaim().shrinkerFailures();
    }

    private ZoneInfo.Reclaim reclaim() {
        return pages.reclaimCounters();
    }

    @Override
    public long getPurgedBytes() {
        return inBytes(ZoneTotals.counters(pages.buddySystem()).purgedFrames());
    }

    @Override
    public String getBuddyinfo() {
        return pages.buddyinfo();
    }

    @Override
    public String getPagetypeinfo() {
        return pages.pagetypeinfo();
    }

    @Override
    public String getZoneinfo() {
        return pages.zoneinfo();
    }

    @Override
    public String getUnusableIndex() {
        return pages.unusableIndex();
    }

    @Override
    public String getSlabinfo() {
        return pages.slabinfo();
    }

    private long inBytes(long frames) {
        return frames * pages.pageSize();
    }
}
