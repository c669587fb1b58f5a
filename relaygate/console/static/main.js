// The console: who is logged in, the navigation (behind a Menu button on a phone) and one page per address.
import { api, ApiError, setCsrf } from "./api.js";
import { clear, h } from "./dom.js";
import { loginPage, registerPage } from "./page-login.js";
import { dashboardPage } from "./page-dashboard.js";
import { channelsPage } from "./page-channels.js";
import { keysPage } from "./page-keys.js";
import { usersPage } from "./page-users.js";
import { logsPage } from "./page-logs.js";
import { pricesPage } from "./page-prices.js";
import { codesPage } from "./page-codes.js";
import { redeemPage } from "./page-redeem.js";
import { accountPage } from "./page-account.js";

const PAGES = {
  "/dashboard": { title: "Dashboard", show: dashboardPage },
  "/channels": { title: "Channels", show: channelsPage, admin: true },
  "/keys": { title: "Keys", show: keysPage },
  "/users": { title: "Users", show: usersPage, admin: true },
  "/logs": { title: "Logs", show: logsPage },
  "/prices": { title: "Prices", show: pricesPage, admin: true },
  "/redemptions": { title: "Redemption codes", show: codesPage, admin: true },
  "/redeem": { title: "Redeem", show: redeemPage, user: true },
  "/account": { title: "Account", show: accountPage },
};
const ADMIN_NAV = ["/dashboard", "/channels", "/keys", "/users", "/logs", "/prices", "/redemptions"];
const USER_NAV = ["/dashboard", "/keys", "/logs", "/redeem"];

const state = { session: null };

export function go(path) {
  if (location.pathname !== path) history.pushState({}, "", path);
  render();
}

async function loadSession() {
  state.session = await api("GET", "/api/auth/session");
  setCsrf(state.session.csrf_token);
}

async function logout() {
  try {
    await api("POST", "/api/auth/logout");
  } finally {
    state.session = { ...state.session, user: null, csrf_token: null };
    setCsrf(null);
    go("/login");
  }
}

function shell(user, path, main) {
  const isAdmin = user.role === "admin";
  const menu = h("div", { id: "menu", class: "menu" },
    h("nav", { "aria-label": "Main" },
      h("ul", {}, (isAdmin ? ADMIN_NAV : USER_NAV).map((p) =>
        h("li", {}, h("a", { href: p, "aria-current": p === path ? "page" : null }, PAGES[p].title))))),
    h("div", { class: "who" },
      h("span", { class: "user-name" }, `${user.name} (${user.role})`),
      h("a", { href: "/account", "aria-current": path === "/account" ? "page" : null }, "Account")));
  const toggle = h("button", { type: "button", class: "menu-button", "aria-expanded": "false", "aria-controls": "menu" }, "Menu");
  toggle.addEventListener("click", () => {
    const open = menu.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
  // Log out stays in the bar on a phone too: only the navigation waits behind Menu
  const out = h("button", { type: "button", class: "logout", onclick: logout }, "Log out");
  return [h("header", { class: "top" }, h("a", { class: "brand", href: "/dashboard" }, "relaygate"), toggle, menu, out), main];
}

async function render() {
  const app = document.getElementById("app");
  let path = location.pathname;
  if (!state.session) {
    try {
      await loadSession();
    } catch (err) {
      clear(app, h("main", {}, h("h1", {}, "relaygate"), h("p", { role: "alert" }, err.message)));
      return;
    }
  }
  const user = state.session.user;
  if (!user) {
    if (path !== "/login" && path !== "/register") {
      history.replaceState({}, "", "/login");
      path = "/login";
    }
    const main = h("main", { class: "narrow" });
    clear(app, main);
    const done = async (session) => {
      state.session = session;
      setCsrf(session.csrf_token);
      go("/dashboard");
    };
    if (path === "/register" && state.session.registration) registerPage(main, done);
    else loginPage(main, done, state.session.registration);
    return;
  }
  if (!PAGES[path]) {
    history.replaceState({}, "", "/dashboard");
    path = "/dashboard";
  }
  const page = PAGES[path];
  const main = h("main", { id: "main" }, h("h1", {}, page.title));
  clear(app, shell(user, path, main));
  document.title = `${page.title} · relaygate`;
  const isAdmin = user.role === "admin";
  if (page.admin && !isAdmin) {
    main.append(h("p", { role: "alert", class: "notice bad" }, "admin only: this page is for administrators."));
    return;
  }
  if (page.user && isAdmin) {
    main.append(h("p", { class: "notice" }, "Redemption codes are redeemed by users on their own account."));
  }
  try {
    await page.show(main, { user, session: state.session, isAdmin, go });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      state.session = null;
      go("/login");
      return;
    }
    main.append(h("p", { role: "alert", class: "notice bad" }, err.message));
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href^='/']");
  if (!link || link.hasAttribute("download") || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  go(link.getAttribute("href"));
});
window.addEventListener("popstate", render);
render();
