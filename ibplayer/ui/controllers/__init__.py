"""The window's areas, one controller each: the episode list (with the
feeds), the episode pane, the chapter sidebar, the player bar, search and
downloads.  Each builds its widgets and adapts the services; none holds a
rule the CLI would need too."""
