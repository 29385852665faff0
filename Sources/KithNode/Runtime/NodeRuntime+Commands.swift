import KithDHT
import KithModel
public import KithPersona

/// The answers to ``ControlCommand``s, shared by the control socket and the dashboard.
extension NodeRuntime {
    /// The events of a streaming command (`talk`, `chat`); for `chat`, `human` gives the
    /// person's turns.
    public func events(of command: ControlCommand, human: HumanTurns?) async -> AsyncStream<TalkEvent> {
        guard let asked = command.talkParameters, let peer = try? Identity(did: asked.did),
              asked.port.map({ (1...65535).contains($0) }) ?? true, (asked.host == nil) == (asked.port == nil)
        else {
            let (stream, c) = AsyncStream.makeStream(of: TalkEvent.self)
            c.yield(TalkEvent(.failed, conv: "", message: "talk needs a valid did, and a host with a port from 1 to 65535 or neither"))
            c.finish()
            return stream
        }
        return await talk(to: peer, host: asked.host, port: asked.port, topic: asked.topic ?? "getting to know each other",
                          turns: asked.turns, human: human)
    }

    /// The answer to a command that does not stream: one ``ControlLine`` as a JSON line.
    public func answer(_ command: ControlCommand) async -> [UInt8] {
        func ok(_ value: some Codable & Sendable) -> [UInt8] { ControlJSON.line(ControlLine.ok(value)) }
        do {
            switch command {
            case .status: return ok(status())
            case .invite(let withAddress): return ok(try invite(withAddress: withAddress))
            case .peers: return ok(peers())
            case .requests: return ok(requests())
            case .suggestions: return ok(currentSuggestions())
            case .reload: return ok(try await reload())
            case .acknowledged: return ok(acknowledged())
            case .accept(let did): return ok(await accept(try Identity(did: did)))
            case .decline(let did): return ok(await decline(try Identity(did: did)))
            case .unfriend(let did): return ok(await unfriend(try Identity(did: did)))
            case .close(let conv, let text):
                guard let id = Hex.decode(conv), id.count == 32 else { return ControlJSON.line(ControlLine<String>.error("close needs a conversation id")) }
                return ok(await close(conversation: id, reason: text ?? "Closing: the conversation was interrupted."))
            case .connect(let did, let host, let port, let dhtKey):
                if let port, !(1...65535).contains(port) { return ControlJSON.line(ControlLine<String>.error("connect needs a port from 1 to 65535")) }
                guard (host == nil) == (port == nil) else { return ControlJSON.line(ControlLine<String>.error("connect needs both a host and a port, or neither")) }
                let key = try Self.readKey(dhtKey, "the invite's dht= part is not a record key; copy the whole invite")
                return ok(await connect(to: try Identity(did: did), host: host, port: port, inviteKey: key))
            case .resolve(let did, let dhtKey):
                let key = try Self.readKey(dhtKey, "the dht= part is not a record key; copy the whole invite")
                return ok(await resolve(try Identity(did: did), inviteKey: key))
            case .people: return ok(try peopleGraph())
            case .conversations: return ok(try conversationList())
            case .conversation(let conv): return ok(try conversationDetail(conv))
            case .export(let conv, let format): return ok(try exportConversation(conv, format: format))
            case .identity: return ok(try identityReport())
            case .preview(let profile): return ok(try disclosurePreview(profile))
            case .saveIdentity(let profile): return ok(try await saveIdentity(profile))
            case .dashboard:
                guard let url = dashboardSignIn?() else {
                    return ControlJSON.line(ControlLine<String>.error("the dashboard is off: restart the node without --no-dashboard"))
                }
                return ok(url)
            case .talk, .chat:
                return ControlJSON.line(ControlLine<String>.error("\(command.name) streams: it is served apart"))
            }
        } catch {
            return ControlJSON.line(ControlLine<String>.error("\(error)"))
        }
    }

    /// The read key of an invite's `dht=` part (z-base-32), or nil when there is none.
    static func readKey(_ text: String?, _ problem: String) throws(NodeError) -> [UInt8]? {
        guard let text else { return nil }
        guard let key = ZBase32.decode(text, length: FriendsRecord.ReadKey.length) else { throw NodeError(problem) }
        return key
    }

}
