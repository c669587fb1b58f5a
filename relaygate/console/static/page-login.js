// Log in (username and password) and, when the operator allows it, create an account.
import { api } from "./api.js";
import { field, form, h } from "./dom.js";

export function loginPage(main, done, registration) {
  document.title = "Log in · relaygate";
  main.append(
    h("h1", {}, "Log in"),
    h("p", { class: "lead" }, "relaygate console"),
    form("Log in", [
      field({ label: "Username", name: "username", required: true, autocomplete: "username" }),
      field({ label: "Password", name: "password", type: "password", required: true, autocomplete: "current-password" }),
    ], async (v) => {
      if (!v.username || !v.password) throw new Error("Enter your username and password.");
      done(await api("POST", "/api/auth/login", { username: v.username, password: v.password }));
    }, { submit: "Log in" }),
    registration ? h("p", {}, "No account yet? ", h("a", { href: "/register" }, "Create an account")) : null,
  );
  main.querySelector("form h2").remove();
  main.querySelector("input").focus();
}

export function registerPage(main, done) {
  document.title = "Create an account · relaygate";
  main.append(
    h("h1", {}, "Create an account"),
    form("Create an account", [
      field({ label: "Username", name: "username", required: true, autocomplete: "username" }),
      field({ label: "Password", name: "password", type: "password", required: true, autocomplete: "new-password", hint: "8 characters or more" }),
    ], async (v) => {
      done(await api("POST", "/api/auth/register", { username: v.username, password: v.password }));
    }, { submit: "Create account" }),
    h("p", {}, h("a", { href: "/login" }, "Log in instead")),
  );
  main.querySelector("form h2").remove();
}
