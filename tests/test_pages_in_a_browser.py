"""The page-testing set-up works: the admin's login page, served by a live server, in Chromium."""

import pytest


@pytest.mark.django_db(transaction=True)
def test_the_admin_login_page_renders_and_refuses_a_wrong_password(page, live_server, django_user_model, tmp_path):
    django_user_model.objects.create_superuser("operator", "operator@example.com", "a-long-password")
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username:").fill("operator")
    page.get_by_label("Password:").fill("wrong")
    page.get_by_role("button", name="Log in").click()

    assert "Please enter the correct username and password" in page.content()
    page.screenshot(path=tmp_path / "admin-login.png")
    assert (tmp_path / "admin-login.png").stat().st_size > 5_000
