import ArgumentParser

/// `strongroom`: the FAPI authorization server and its operator commands.
@main
struct Strongroom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strongroom",
        abstract: "Strongroom: a FAPI 1.0 (Baseline/Advanced) OAuth 2.0 / OpenID Connect authorization server.",
        discussion: """
        Start with `strongroom demo`, which writes a demo kit (test CA, certificates, client keys, \
        configuration) into ./demo and serves it. Every key of the configuration file is described \
        in docs/configuration.md.

        Exit codes: 0 success, 1 violations or failure, 2 configuration error.
        """,
        subcommands: [
            DemoCommand.self, ServeCommand.self, MigrateCommand.self, ConfigCommand.self,
            ClientsCommand.self, UsersCommand.self, KeysCommand.self,
        ]
    )
}
