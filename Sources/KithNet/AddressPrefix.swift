#if canImport(Glibc)
import Glibc
#endif

/// The network an address belongs to, for per-network limits: its /24 for IPv4 and its /64 for
/// IPv6 (what one home router or one customer of a provider usually holds), so one host cannot
/// dodge a limit by using the addresses next to its own.
public enum AddressPrefix {
    /// `a.b.c.0/24` or the first four groups of an IPv6 address with `::/64`; the address
    /// itself when it parses as neither.
    public static func of(_ ip: String) -> String {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            let b = withUnsafeBytes(of: v4.s_addr) { Array($0) }
            return "\(b[0]).\(b[1]).\(b[2]).0/24"
        }
        var v6 = in6_addr()
        let bare = ip.hasPrefix("[") && ip.hasSuffix("]") ? String(ip.dropFirst().dropLast()) : ip
        if inet_pton(AF_INET6, bare, &v6) == 1 {
            let b = withUnsafeBytes(of: v6) { Array($0) }
            // An IPv4 address mapped into IPv6 is the IPv4 address.
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return "\(b[12]).\(b[13]).\(b[14]).0/24" }
            let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }
            return groups.joined(separator: ":") + "::/64"
        }
        return ip
    }

    /// The IP part of `host:port` or `[v6]:port`.
    public static func host(of address: String) -> String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        let host = String(address[..<colon])
        return host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }
}
