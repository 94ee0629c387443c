"""One module per view or screen of the TUI.

Each module holds its widget or screen and, where the view has keys bound as
``app.*`` actions, a mixin of those actions over :class:`eventops.tui.core.CoreApp`
(``AlertActions``, ``DeviceActions``, ``TimelineActions``, ``WallActions``).
Nothing here imports :mod:`eventops.tui.app`: views reach the app through
:class:`eventops.tui.core.Host`; ``EventOpsApp`` composes the mixins.
"""
