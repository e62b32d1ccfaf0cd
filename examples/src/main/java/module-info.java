/** Runnable programs that use Pagoda through its exported API only. */
module io.pagoda.examples {
    requires io.pagoda;
    // The server showdown. pagoda-netty has no module descriptor: it is the automatic module named
    // after its jar's file name; Netty's jars are named modules.
    requires pagoda.netty;
    requires io.netty.buffer;
    requires io.netty.codec.http;
    requires io.netty.common;
    requires io.netty.transport;
}
