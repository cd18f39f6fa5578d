import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { createApi } from "./lib/api.ts";

mount(App, { target: document.getElementById("app")!, props: { api: createApi() } });
