"""The browser-test harness: Chromium with guards, axe-core, screenshots and people."""
