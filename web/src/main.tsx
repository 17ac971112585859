/** The web app's entry: styles, then the app into #root (replacing the server's boot content). */
import { createRoot } from 'react-dom/client';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { App } from './app.js';

createRoot(document.getElementById('root')!).render(<App />);
