"""Light and dark themes: the system's by default, the header toggle's once chosen (kept
across reloads)."""

from playwright.sync_api import Page, expect

LIGHT_BG, DARK_BG = "rgb(246, 247, 249)", "rgb(13, 17, 23)"


def body_background(page: Page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def test_the_page_follows_the_system_colour_scheme(browser, parley_server):
    context = browser.new_context()
    page = context.new_page()
    page.emulate_media(color_scheme="dark")
    page.goto(f"{parley_server.url}/accounts/login/")
    assert body_background(page) == DARK_BG
    page.emulate_media(color_scheme="light")
    assert body_background(page) == LIGHT_BG
    context.close()


def test_the_toggle_overrides_the_system_and_is_remembered_after_a_reload(people):
    alice = people("alice")
    page = alice.new_page()
    page.emulate_media(color_scheme="dark")
    page.goto(alice.server.url)
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_have_accessible_name("Use the light theme")
    assert body_background(page) == DARK_BG

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(toggle).to_have_accessible_name("Use the dark theme")
    assert body_background(page) == LIGHT_BG

    # Remembered: another page, and a reload, open light although the system is dark.
    page.goto(f"{alice.server.url}/accounts/profile/")
    assert body_background(page) == LIGHT_BG
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert body_background(page) == LIGHT_BG
    page.locator("#theme-toggle").press("Enter")
    assert body_background(page) == DARK_BG
    page.emulate_media(color_scheme="light")
    assert body_background(page) == DARK_BG  # the choice still wins over the system
    assert alice.errors == []
