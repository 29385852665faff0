import Foundation
public import KithModel

/// Builds the engine an identity model asks for.
public enum EngineFactory {
    /// The engine for `model`; relative script paths are resolved against `baseDirectory`.
    public static func make(for model: IdentityModel, baseDirectory: String) throws -> any PersonaEngine {
        switch model.engine.kind {
        case .script:
            guard let script = model.engine.script else { throw PersonaError("engine.script is required for kind script") }
            let path = script.hasPrefix("/") ? script : baseDirectory + "/" + script
            return try ScriptEngine(path: path)
        case .embedded:
            return EmbeddedEngine(seed: model.engine.seed ?? 0)
        case .openai:
            throw PersonaError("the openai engine is not available in this version yet: use `engine.kind: embedded` (the default) or `script`")
        }
    }
}
