import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithNet
import KithProtocol
import KithStore
import Logging

extension NodeRuntime {
    // MARK: - UDP

    func announce() {
        guard let udp, let tcpPort = UInt64(exactly: published.listen.port) else { return }
        let kind = Datagram.Kind.announce(tcpPort: tcpPort, seq: manifest.manifest.seq, hash: manifest.object.hash)
        for target in options.lanTargets {
            guard let (host, port) = Endpoint.splitHostPort(target) else { continue }
            udp.send(kind, toHost: host, port: port)
        }
    }

    /// Tells friends with a UDP endpoint that our manifest changed.
    func sendHeads() {
        guard let udp else { return }
        let kind = Datagram.Kind.head(seq: manifest.manifest.seq, hash: manifest.object.hash)
        let records = (try? context.store.connections(involving: identity)) ?? []
        for (peer, rel) in relationships(records) where rel == .friends {
            let udpEndpoints = ((try? context.store.advertisedAddresses(of: peer))?.endpoints ?? []).compactMap(Endpoint.init).filter { $0.scheme == "udp" }
            for e in udpEndpoints { udp.send(kind, toHost: e.host, port: e.port) }
        }
    }

    func handle(_ datagram: Datagram, fromHost host: String) async {
        let peer = datagram.from
        // In-memory checks first: a flood of strangers' datagrams costs no database reads.
        switch datagram.kind {
        case .announce(let tcpPort, let seq, _):
            let endpoint = Endpoint(scheme: "tcp", host: host, port: Int(tcpPort)).description
            if neighbourhood.lan.saw(peer, endpoint: endpoint, seq: seq, at: clock.now()) { logger.info("discovered a node on the LAN", metadata: ["peer": "\(peer.did)", "at": "\(endpoint)"]) }
            guard transport.connection(to: peer) == nil else { return }
            let rel = relationship(with: peer)
            if rel == .friends || rel == .requested {
                // Kept only once a handshake at that address proved the key.
                if (try? await transport.dial(host: host, port: Int(tcpPort), expected: peer)) != nil {
                    try? context.store.addPeer(peer, endpoint: endpoint, at: clock.now())
                }
            }
        case .head(let seq, _):
            guard relationship(with: peer) == .friends, seq > (try? context.store.manifest(of: peer))?.manifest.seq ?? 0 else { return }
            if let conn = transport.connection(to: peer) {
                try? await conn.send(.manifestRequest)
            } else {
                _ = await dialAny(peer)
            }
        }
    }
}
